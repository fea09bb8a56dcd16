//! refsan's runtime side: `refsan run`, `refsan build`, `refsan doctor`.
pub mod asan;
pub mod classify;
pub mod cython;
pub mod faulthandler;
pub mod heapcheck;
pub mod report;
pub mod valgrind;
