//! checkpoint (under construction)
