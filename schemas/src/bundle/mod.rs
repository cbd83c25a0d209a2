//! bundle (under construction)
