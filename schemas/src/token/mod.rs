//! token (under construction)
