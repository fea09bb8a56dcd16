//! Decides what kind of memory error a crash was (RT01–RT06 of RULES.md)
//! from everything observed, and keeps the facts that support the verdict.
//!
//! The most specific witness wins: a sanitizer's own verdict, then a debug
//! build's negative-refcount assertion, the allocators' double-free and
//! guard-byte checks, fill patterns in registers, and last the faulting
//! address.

use crate::asan::AsanReport;
use crate::faulthandler::FatalOutput;
use crate::heapcheck::{FillPattern, HeapMessages};
use crate::report::{Classification, Evidence, EvidenceSource};
use crate::valgrind::ValgrindError;

/// Addresses below this are a NULL pointer plus a field offset.
pub const NEAR_NULL_LIMIT: u64 = 0x10000;

/// The kernel's account of a fatal signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalFacts {
    pub signo: i32,
    /// `si_code`: > 0 the kernel raised it for a fault, <= 0 a process sent it.
    pub code: i32,
    /// `si_addr` for SIGSEGV/SIGBUS/SIGILL/SIGFPE raised by a fault.
    pub address: Option<u64>,
}

impl SignalFacts {
    /// A hardware fault (as opposed to kill(), raise() or abort()).
    pub fn is_fault(&self) -> bool {
        self.code > 0
    }

    /// A general protection fault: x86-64 reports a non-canonical address
    /// (such as a pointer made of fill bytes) with SI_KERNEL and no address.
    pub fn is_general_protection(&self) -> bool {
        self.signo == libc::SIGSEGV && self.code == libc::SI_KERNEL
    }

    /// The kernel's reason in words.
    pub fn reason(&self) -> Option<String> {
        let text = match (self.signo, self.code) {
            (libc::SIGSEGV, 1) => "address not mapped",
            (libc::SIGSEGV, 2) => "invalid permissions for mapped object",
            (libc::SIGSEGV, libc::SI_KERNEL) => {
                "general protection fault: non-canonical address (the address is not reported)"
            }
            (libc::SIGBUS, 1) => "invalid address alignment",
            (libc::SIGBUS, 2) => "nonexistent physical address",
            (libc::SIGBUS, 3) => "object-specific hardware error",
            (libc::SIGFPE, 1) => "integer divide by zero",
            (libc::SIGFPE, 2) => "integer overflow",
            (libc::SIGILL, 1) => "illegal opcode",
            (libc::SIGILL, 2) => "illegal operand",
            (_, libc::SI_USER) => "sent by kill()",
            (_, libc::SI_TKILL) => "raised by the process itself (raise/abort)",
            (_, libc::SI_QUEUE) => "sent by sigqueue()",
            _ => return None,
        };
        Some(text.to_string())
    }
}

/// What is known about one crash.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observations<'a> {
    pub signal: Option<SignalFacts>,
    /// General-purpose registers of the crashing thread at the fault.
    pub registers: &'a [(String, u64)],
    pub fatal: Option<&'a FatalOutput>,
    pub heap: Option<&'a HeapMessages>,
    pub asan: Option<&'a AsanReport>,
    /// The first (non-leak) memcheck error of the process.
    pub valgrind: Option<&'a ValgrindError>,
    /// Registers that point to memory the debug allocator filled as freed
    /// (read by gdb at the fault).
    pub freed_pointers: &'a [(String, u64)],
}

/// The classification and every piece of evidence found, strongest first.
pub fn classify(obs: &Observations) -> (Classification, Vec<Evidence>) {
    let mut found: Vec<(Classification, Evidence)> = Vec::new();
    if let Some(asan) = obs.asan {
        found.extend(from_asan(asan));
    }
    if let Some(vg) = obs.valgrind {
        found.extend(from_valgrind(vg));
    }
    if let Some(heap) = obs.heap {
        found.extend(from_heap_messages(heap));
    }
    found.extend(from_registers(obs.registers));
    for (name, value) in obs.freed_pointers {
        found.push((
            Classification::FreedObjectUse,
            evidence(
                EvidenceSource::Registers,
                format!("{name} = {value:#x} points to memory filled with 0xDD, the debug allocator's fill for freed memory: it held a freed object"),
            ),
        ));
    }
    if let Some(sig) = obs.signal {
        found.extend(from_signal(&sig, obs.registers));
    }
    if let Some(fatal) = obs.fatal {
        if let Some(message) = &fatal.fatal_error {
            let is_signal_echo = matches!(
                message.as_str(),
                "Segmentation fault"
                    | "Bus error"
                    | "Aborted"
                    | "Floating point exception"
                    | "Illegal instruction"
            );
            if !is_signal_echo {
                found.push((
                    Classification::OtherCrash,
                    evidence(
                        EvidenceSource::FatalError,
                        format!("Fatal Python error: {message}"),
                    ),
                ));
            }
        }
    }
    let classification = found
        .iter()
        .map(|(c, _)| *c)
        .min_by_key(|c| priority(*c))
        .unwrap_or(Classification::OtherCrash);
    let mut evidence: Vec<Evidence> = Vec::new();
    // Evidence for the verdict first, then the rest (still useful context).
    for (c, e) in found.iter().filter(|(c, _)| *c == classification) {
        let _ = c;
        push_unique(&mut evidence, e.clone());
    }
    for (_, e) in found.into_iter() {
        push_unique(&mut evidence, e);
    }
    (classification, evidence)
}

fn push_unique(list: &mut Vec<Evidence>, e: Evidence) {
    if !list.contains(&e) {
        list.push(e);
    }
}

/// Lower is stronger: a specific memory-error kind beats a generic one.
fn priority(c: Classification) -> u8 {
    match c {
        Classification::NegativeRefcount => 0,
        Classification::DoubleFree => 1,
        Classification::FreedObjectUse => 2,
        Classification::BufferOverflow => 3,
        Classification::NullObject => 4,
        Classification::OtherCrash => 5,
    }
}

fn evidence(source: EvidenceSource, text: String) -> Evidence {
    Evidence { source, text }
}

fn from_asan(r: &AsanReport) -> Vec<(Classification, Evidence)> {
    let kind = r.kind.as_str();
    let headline = format!("AddressSanitizer: {}", r.headline);
    let class = match kind {
        "heap-use-after-free" => Classification::FreedObjectUse,
        "double-free" => Classification::DoubleFree,
        k if k.ends_with("buffer-overflow") || k.ends_with("overflow") => {
            Classification::BufferOverflow
        }
        "SEGV" | "BUS" => match r.address {
            Some(a) if a < NEAR_NULL_LIMIT => Classification::NullObject,
            _ => Classification::OtherCrash,
        },
        _ => Classification::OtherCrash,
    };
    let mut out = vec![(class, evidence(EvidenceSource::AddressSanitizer, headline))];
    // The allocator's answer outranks the faulting address: a register held
    // a freed block (an uninstrumented read in libpython of a freed object).
    for d in r.described.iter().filter(|d| d.freed()) {
        let holder = d
            .register
            .as_deref()
            .map(|reg| format!(" ({reg} at the fault)"))
            .unwrap_or_default();
        out.push((
            Classification::FreedObjectUse,
            evidence(
                EvidenceSource::AddressSanitizer,
                format!(
                    "{}{holder}, freed: ASan's allocator knows the block as freed",
                    d.description
                ),
            ),
        ));
    }
    if let Some(access) = &r.access {
        out.push((
            class,
            evidence(EvidenceSource::AddressSanitizer, access.clone()),
        ));
    }
    for d in &r.details {
        out.push((class, evidence(EvidenceSource::AddressSanitizer, d.clone())));
    }
    out
}

fn from_valgrind(e: &ValgrindError) -> Vec<(Classification, Evidence)> {
    let aux = e.aux.first().map(|(a, _)| a.as_str()).unwrap_or("");
    // "Address 0x4a8 is 8 bytes inside a block of size 32 free'd"; not
    // "is not stack'd, malloc'd or (recently) free'd".
    let in_freed_block = aux.contains("a block of size") && aux.ends_with("free'd");
    let class = match e.kind.as_str() {
        "InvalidFree" | "MismatchedFree" => {
            if in_freed_block {
                Classification::DoubleFree
            } else {
                Classification::OtherCrash
            }
        }
        "InvalidRead" | "InvalidWrite" | "InvalidJump" => {
            if in_freed_block {
                Classification::FreedObjectUse
            } else if aux.contains("bytes after a block") || aux.contains("bytes before a block") {
                Classification::BufferOverflow
            } else if e.address().is_some_and(|a| a < NEAR_NULL_LIMIT) {
                Classification::NullObject
            } else {
                Classification::OtherCrash
            }
        }
        _ => Classification::OtherCrash,
    };
    let mut out = vec![(class, evidence(EvidenceSource::Valgrind, e.what.clone()))];
    if !aux.is_empty() {
        out.push((class, evidence(EvidenceSource::Valgrind, aux.to_string())));
    }
    out
}

fn from_heap_messages(h: &HeapMessages) -> Vec<(Classification, Evidence)> {
    let mut out = Vec::new();
    if let Some(line) = &h.negative_refcount {
        out.push((
            Classification::NegativeRefcount,
            evidence(EvidenceSource::FatalError, line.clone()),
        ));
    }
    if let Some(message) = &h.singleton_dealloc {
        out.push((
            Classification::NegativeRefcount,
            evidence(
                EvidenceSource::FatalError,
                format!("{message}: a singleton's reference count reached zero (a Py_None/Py_True/Py_False returned or stored without Py_INCREF; use Py_RETURN_NONE or Py_NewRef)"),
            ),
        ));
    }
    if let Some(line) = &h.freed_object {
        out.push((
            Classification::FreedObjectUse,
            evidence(EvidenceSource::FatalError, line.clone()),
        ));
    }
    if let Some(dump) = &h.block_dump {
        if dump.freed_before() {
            out.push((
                Classification::DoubleFree,
                evidence(
                    EvidenceSource::DebugAllocator,
                    format!(
                        "block p={} was freed again: its header and leading guard bytes already hold the freed fill 0xDD",
                        dump.address
                    ),
                ),
            ));
        } else if !dump.bad_trailing.is_empty() || !dump.bad_leading.is_empty() {
            let (side, bytes) = if dump.bad_trailing.is_empty() {
                ("leading", &dump.bad_leading)
            } else {
                ("trailing", &dump.bad_trailing)
            };
            out.push((
                Classification::BufferOverflow,
                evidence(
                    EvidenceSource::DebugAllocator,
                    format!(
                        "block p={}: {} guard bytes (0xFD) overwritten with {}",
                        dump.address,
                        side,
                        hex_bytes(bytes)
                    ),
                ),
            ));
        }
    }
    if let Some(message) = &h.allocator_error {
        let class = if message.contains("bad ID") {
            Classification::DoubleFree
        } else {
            Classification::BufferOverflow
        };
        out.push((
            class,
            evidence(
                EvidenceSource::DebugAllocator,
                format!("Fatal Python error: {message}"),
            ),
        ));
    }
    if let Some(message) = &h.libc_error {
        let class = if message.contains("double free") {
            Classification::DoubleFree
        } else {
            Classification::OtherCrash
        };
        out.push((class, evidence(EvidenceSource::Libc, message.clone())));
    }
    out
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("0x{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn from_registers(registers: &[(String, u64)]) -> Vec<(Classification, Evidence)> {
    let mut out = Vec::new();
    for (name, value) in registers {
        if name == "rip" || name == "pc" {
            continue;
        }
        let Some(pattern) = FillPattern::of_value(*value) else {
            continue;
        };
        let (class, meaning) = match pattern {
            FillPattern::Freed => (
                Classification::FreedObjectUse,
                "the debug allocator's fill for freed memory (0xDD): a pointer or count was read from an object that had been freed",
            ),
            FillPattern::Fresh => (
                Classification::FreedObjectUse,
                "the debug allocator's fill for fresh memory (0xCD) where an object was expected: the object was freed and its block handed out again",
            ),
            FillPattern::Guard => (
                Classification::BufferOverflow,
                "the debug allocator's guard bytes (0xFD): a read past the end of a block",
            ),
        };
        out.push((
            class,
            evidence(
                EvidenceSource::Registers,
                format!("{name} = {value:#018x}: {meaning}"),
            ),
        ));
    }
    out
}

fn from_signal(sig: &SignalFacts, registers: &[(String, u64)]) -> Vec<(Classification, Evidence)> {
    let mut out = Vec::new();
    if !sig.is_fault() {
        return out;
    }
    if sig.is_general_protection() {
        let fill_seen = registers
            .iter()
            .any(|(n, v)| n != "rip" && FillPattern::of_value(*v).is_some());
        let class = if fill_seen {
            Classification::FreedObjectUse
        } else {
            Classification::OtherCrash
        };
        out.push((
            class,
            evidence(
                EvidenceSource::Signal,
                "general protection fault: the code dereferenced a non-canonical address, such as a pointer made of fill bytes".to_string(),
            ),
        ));
        return out;
    }
    if let Some(addr) = sig.address {
        if (sig.signo == libc::SIGSEGV || sig.signo == libc::SIGBUS) && addr < NEAR_NULL_LIMIT {
            out.push((
                Classification::NullObject,
                evidence(
                    EvidenceSource::Signal,
                    format!("faulting address {addr:#x} is within {NEAR_NULL_LIMIT:#x} bytes of NULL: a NULL object pointer plus a field offset"),
                ),
            ));
        } else if let Some(pattern) = FillPattern::of_value(addr) {
            let class = if pattern == FillPattern::Guard {
                Classification::BufferOverflow
            } else {
                Classification::FreedObjectUse
            };
            out.push((
                class,
                evidence(
                    EvidenceSource::Signal,
                    format!(
                        "faulting address {addr:#x} is made of the debug allocator's {:#04x} fill",
                        pattern.byte()
                    ),
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asan(file: &str) -> AsanReport {
        crate::asan::parse_all(file).remove(0)
    }

    #[test]
    fn asan_use_after_free_is_rt01() {
        let r = asan(include_str!("../tests/data/asan_double_decref.txt"));
        let (c, ev) = classify(&Observations {
            asan: Some(&r),
            ..Default::default()
        });
        assert_eq!(c, Classification::FreedObjectUse);
        assert!(ev[0].text.contains("heap-use-after-free"));
    }

    #[test]
    fn asan_zero_page_segv_is_rt04() {
        let r = asan(include_str!("../tests/data/asan_unchecked_null.txt"));
        let (c, _) = classify(&Observations {
            asan: Some(&r),
            ..Default::default()
        });
        assert_eq!(c, Classification::NullObject);
    }

    #[test]
    fn asan_double_free_is_rt03() {
        let r = asan(include_str!("../tests/data/asan_double_free.txt"));
        let (c, _) = classify(&Observations {
            asan: Some(&r),
            ..Default::default()
        });
        assert_eq!(c, Classification::DoubleFree);
    }

    #[test]
    fn null_fault_address_is_rt04() {
        let sig = SignalFacts {
            signo: libc::SIGSEGV,
            code: 1,
            address: Some(0x10),
        };
        let (c, ev) = classify(&Observations {
            signal: Some(sig),
            ..Default::default()
        });
        assert_eq!(c, Classification::NullObject);
        assert!(ev[0].text.contains("0x10"));
    }

    #[test]
    fn a_near_null_fault_through_a_freed_object_is_rt01_not_rt04() {
        // Freed memory read as a pointer gave 0x148: the register that held
        // the object points to 0xDD fill (gdb read it at the fault).
        let sig = SignalFacts {
            signo: libc::SIGSEGV,
            code: 1,
            address: Some(0x148),
        };
        let freed = [("rbx".to_string(), 0x7f00_1234_5670_u64)];
        let (c, ev) = classify(&Observations {
            signal: Some(sig),
            freed_pointers: &freed,
            ..Default::default()
        });
        assert_eq!(c, Classification::FreedObjectUse);
        assert!(ev[0].text.starts_with("rbx = 0x7f0012345670"), "{ev:?}");
        // Under ASan: its allocator's answer about a register.
        let mut r = asan(include_str!("../tests/data/asan_unchecked_null.txt"));
        r.described.push(crate::asan::DescribedAddress {
            address: 0x6060_0000_0020,
            description: "0x606000000020 is located 32 bytes inside of 56-byte region".into(),
            stacks: vec![("freed by thread T0".into(), vec![])],
            register: Some("rdi".into()),
        });
        let (c, ev) = classify(&Observations {
            asan: Some(&r),
            ..Default::default()
        });
        assert_eq!(c, Classification::FreedObjectUse);
        assert!(ev[0].text.contains("(rdi at the fault)"), "{ev:?}");
    }

    #[test]
    fn fill_in_registers_is_rt01() {
        let sig = SignalFacts {
            signo: libc::SIGSEGV,
            code: libc::SI_KERNEL,
            address: Some(0),
        };
        let regs = vec![
            ("rax".to_string(), 0xcdcd_cdcd_cdcd_cdcd),
            ("rdx".to_string(), 1),
        ];
        let (c, ev) = classify(&Observations {
            signal: Some(sig),
            registers: &regs,
            ..Default::default()
        });
        assert_eq!(c, Classification::FreedObjectUse);
        assert!(ev[0].text.starts_with("rax = 0xcdcdcdcdcdcdcdcd"));
        assert!(ev.iter().any(|e| e.source == EvidenceSource::Signal));
    }

    #[test]
    fn general_protection_fault_without_fill_is_rt06() {
        let sig = SignalFacts {
            signo: libc::SIGSEGV,
            code: libc::SI_KERNEL,
            address: Some(0),
        };
        let (c, _) = classify(&Observations {
            signal: Some(sig),
            ..Default::default()
        });
        assert_eq!(c, Classification::OtherCrash);
    }

    #[test]
    fn debug_build_negative_refcount_is_rt02() {
        let text = include_bytes!("../tests/data/debugbuild_negative_refcount.txt");
        let heap = crate::heapcheck::parse(text);
        let fatal = crate::faulthandler::parse(&String::from_utf8_lossy(text));
        let sig = SignalFacts {
            signo: libc::SIGABRT,
            code: libc::SI_TKILL,
            address: None,
        };
        let (c, ev) = classify(&Observations {
            signal: Some(sig),
            heap: Some(&heap),
            fatal: Some(&fatal),
            ..Default::default()
        });
        assert_eq!(c, Classification::NegativeRefcount);
        assert!(ev[0].text.contains("negative ref count"));
    }

    #[test]
    fn debug_allocator_double_free_is_rt03() {
        let heap = crate::heapcheck::parse(include_bytes!("../tests/data/debugalloc_bad_id.txt"));
        let (c, ev) = classify(&Observations {
            heap: Some(&heap),
            ..Default::default()
        });
        assert_eq!(c, Classification::DoubleFree);
        assert_eq!(ev[0].source, EvidenceSource::DebugAllocator);
    }

    #[test]
    fn debug_allocator_overflow_is_rt05() {
        let heap =
            crate::heapcheck::parse(include_bytes!("../tests/data/debugalloc_trailing_pad.txt"));
        let (c, ev) = classify(&Observations {
            heap: Some(&heap),
            ..Default::default()
        });
        assert_eq!(c, Classification::BufferOverflow);
        assert!(ev[0]
            .text
            .contains("trailing guard bytes (0xFD) overwritten with 0x41"));
    }

    #[test]
    fn valgrind_freed_block_read_is_rt01_and_null_read_rt04() {
        let log = crate::valgrind::parse(include_str!("../tests/data/valgrind_double_decref.xml"));
        let (c, ev) = classify(&Observations {
            valgrind: log.errors.iter().find(|e| !e.is_leak()),
            ..Default::default()
        });
        assert_eq!(c, Classification::FreedObjectUse);
        assert!(ev.iter().any(|e| e.text.contains("free'd")));
        let log = crate::valgrind::parse(include_str!("../tests/data/valgrind_unchecked_null.xml"));
        let (c, _) = classify(&Observations {
            valgrind: log.errors.first(),
            ..Default::default()
        });
        assert_eq!(c, Classification::NullObject);
    }

    #[test]
    fn nothing_known_is_rt06() {
        let (c, ev) = classify(&Observations::default());
        assert_eq!(c, Classification::OtherCrash);
        assert!(ev.is_empty());
    }
}
