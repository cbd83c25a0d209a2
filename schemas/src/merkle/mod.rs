//! merkle (under construction)
