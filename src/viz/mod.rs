//! Pictures for learners: a small PNG encoder ([`png`]), grids of filters and feature maps
//! ([`grid`]), and SVG charts ([`svg`]): training curves and bar charts.

pub mod features;
pub mod grid;
pub mod png;
pub mod svg;
