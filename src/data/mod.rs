//! Reading Fashion-MNIST from the raw IDX files.
