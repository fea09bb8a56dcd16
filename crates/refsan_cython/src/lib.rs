//! refsan's Cython front-end.

pub mod ast;
pub mod lexer;
pub mod parser;
