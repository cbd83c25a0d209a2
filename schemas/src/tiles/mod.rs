//! tiles (under construction)
