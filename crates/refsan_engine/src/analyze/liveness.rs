//! Liveness of front-end temporaries: a temp's value dies after the last
//! statement that reads it.

use super::*;

pub(super) fn operand_vars(op: &Operand, out: &mut Vec<VarId>) {
    match op {
        Operand::Var(v) | Operand::Field(v, _) => out.push(*v),
        Operand::AddrOf(p) => place_vars(p, out),
        _ => {}
    }
}

pub(super) fn place_vars(p: &Place, out: &mut Vec<VarId>) {
    match p {
        Place::Field(v, _) | Place::Deref(v) | Place::Index(v) => out.push(*v),
        Place::Var(_) | Place::Global(_) | Place::Opaque => {}
    }
}

pub(super) fn stmt_reads(s: &StmtKind, out: &mut Vec<VarId>) {
    match s {
        StmtKind::Assign { src, .. } => operand_vars(src, out),
        StmtKind::Call { args, .. } => args.iter().for_each(|a| operand_vars(a, out)),
        StmtKind::Store { place, value } => {
            place_vars(place, out);
            operand_vars(value, out);
        }
        StmtKind::Incref { value, .. }
        | StmtKind::Use { value, .. }
        | StmtKind::Escape { value } => operand_vars(value, out),
        StmtKind::Decref { value, clears, .. } => {
            operand_vars(value, out);
            if let Some(p) = clears {
                place_vars(p, out);
            }
        }
        StmtKind::Havoc { .. } | StmtKind::ReleaseGil | StmtKind::AcquireGil => {}
    }
}

pub(super) fn stmt_def(s: &StmtKind) -> Option<VarId> {
    match s {
        StmtKind::Assign { dst, .. } => Some(*dst),
        StmtKind::Call { dst, .. } => *dst,
        _ => None,
    }
}

pub(super) fn term_reads(t: &Terminator, out: &mut Vec<VarId>) {
    match t {
        Terminator::Branch {
            cond: Cond::IsNull(op) | Cond::Cmp(op, _, _),
            ..
        }
        | Terminator::Return(Some(op)) => operand_vars(op, out),
        Terminator::Branch {
            cond: Cond::Same(a, b),
            ..
        } => {
            operand_vars(a, out);
            operand_vars(b, out);
        }
        _ => {}
    }
}

/// Temps that die after each statement (index = global stmt ref), and for
/// each block the temps that are dead when it is entered.
pub(super) struct TempLiveness {
    pub deaths: Vec<Vec<VarId>>,
    /// Per block, the temps live on entry (bits by temp index).
    live_in: Vec<Vec<u64>>,
    /// Per variable, its temp index.
    temp_index: Vec<Option<usize>>,
}

impl TempLiveness {
    /// `v` is a temp that is dead when block `b` is entered.
    pub fn dead_on_entry(&self, b: usize, v: VarId) -> bool {
        match (self.temp_index.get(v.index()), self.live_in.get(b)) {
            (Some(Some(i)), Some(bits)) => bits[i / 64] & (1 << (i % 64)) == 0,
            _ => false,
        }
    }
}

pub(super) fn temp_deaths(func: &Function, block_base: &[u32], nstmts: usize) -> TempLiveness {
    let mut deaths = vec![Vec::new(); nstmts];
    let temp_index: Vec<Option<usize>> = {
        let mut n = 0;
        func.vars
            .iter()
            .map(|v| {
                // Locals too: their liveness decides what block entries
                // keep (deaths are reported for temps only).
                if matches!(v.kind, VarKind::Temp | VarKind::Local) {
                    n += 1;
                    Some(n - 1)
                } else {
                    None
                }
            })
            .collect()
    };
    let ntemps = temp_index.iter().flatten().count();
    if ntemps == 0 {
        return TempLiveness {
            deaths,
            live_in: Vec::new(),
            temp_index,
        };
    }
    let words = ntemps.div_ceil(64);
    let nb = func.blocks.len();
    type Bits = Vec<u64>;
    let set = |bits: &mut Bits, v: VarId| {
        if let Some(Some(i)) = temp_index.get(v.index()) {
            bits[i / 64] |= 1 << (i % 64);
        }
    };
    let has = |bits: &Bits, v: VarId| -> bool {
        match temp_index.get(v.index()) {
            Some(Some(i)) => bits[i / 64] & (1 << (i % 64)) != 0,
            _ => false,
        }
    };
    // use/def per block (upward-exposed uses).
    let mut gen = vec![vec![0u64; words]; nb];
    let mut kill = vec![vec![0u64; words]; nb];
    let mut tmp = Vec::new();
    for (bi, b) in func.blocks.iter().enumerate() {
        let (g, k) = (&mut gen[bi], &mut kill[bi]);
        let mut gk: Bits = vec![0; words];
        let mut kk: Bits = vec![0; words];
        for s in &b.stmts {
            tmp.clear();
            stmt_reads(&s.kind, &mut tmp);
            for v in &tmp {
                if !has(&kk, *v) {
                    set(&mut gk, *v);
                }
            }
            if let Some(d) = stmt_def(&s.kind) {
                set(&mut kk, d);
            }
        }
        tmp.clear();
        term_reads(&b.term, &mut tmp);
        for v in &tmp {
            if !has(&kk, *v) {
                set(&mut gk, *v);
            }
        }
        *g = gk;
        *k = kk;
    }
    let succs: Vec<Vec<BlockId>> = func.blocks.iter().map(|b| b.term.successors()).collect();
    let mut live_in = vec![vec![0u64; words]; nb];
    let mut live_out = vec![vec![0u64; words]; nb];
    // A worklist in post-order (successors before their predecessors):
    // one pass settles code without loops whatever the block numbering,
    // where a sweep by block number took one pass per `#ifdef` whose join
    // block is numbered before its arms.
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for (bi, ss) in succs.iter().enumerate() {
        for s in ss {
            if s.index() < nb && !preds[s.index()].contains(&bi) {
                preds[s.index()].push(bi);
            }
        }
    }
    let mut queue: VecDeque<usize> = post_order(&succs).into();
    let mut queued = vec![true; nb];
    let mut out: Bits = vec![0; words];
    while let Some(bi) = queue.pop_front() {
        queued[bi] = false;
        out.iter_mut().for_each(|w| *w = 0);
        for s in &succs[bi] {
            if let Some(li) = live_in.get(s.index()) {
                for (o, i) in out.iter_mut().zip(li.iter()) {
                    *o |= *i;
                }
            }
        }
        let mut changed = false;
        for w in 0..words {
            let inn = gen[bi][w] | (out[w] & !kill[bi][w]);
            if inn != live_in[bi][w] {
                live_in[bi][w] = inn;
                changed = true;
            }
        }
        live_out[bi].copy_from_slice(&out);
        if changed {
            for &p in &preds[bi] {
                if !queued[p] {
                    queued[p] = true;
                    queue.push_back(p);
                }
            }
        }
    }
    for (bi, b) in func.blocks.iter().enumerate() {
        let base = block_base[bi] as usize;
        let mut live = live_out[bi].clone();
        tmp.clear();
        term_reads(&b.term, &mut tmp);
        let term_ref = base + b.stmts.len();
        let is_temp = |v: &VarId| {
            func.vars
                .get(v.index())
                .is_some_and(|x| x.kind == VarKind::Temp)
        };
        for v in &tmp {
            if is_temp(v) && !has(&live, *v) && !deaths[term_ref].contains(v) {
                deaths[term_ref].push(*v);
            }
        }
        for v in &tmp {
            set(&mut live, *v);
        }
        for (i, s) in b.stmts.iter().enumerate().rev() {
            tmp.clear();
            stmt_reads(&s.kind, &mut tmp);
            let mut d = Vec::new();
            for v in &tmp {
                if is_temp(v) && !has(&live, *v) && !d.contains(v) {
                    d.push(*v);
                }
            }
            if let Some(def) = stmt_def(&s.kind) {
                if func.vars[def.index()].kind == VarKind::Temp
                    && !has(&live, def)
                    && !d.contains(&def)
                {
                    d.push(def);
                }
                if let Some(Some(ti)) = temp_index.get(def.index()) {
                    live[ti / 64] &= !(1 << (ti % 64));
                }
            }
            for v in &tmp {
                set(&mut live, *v);
            }
            deaths[base + i] = d;
        }
    }
    TempLiveness {
        deaths,
        live_in,
        temp_index,
    }
}

/// The blocks in post-order of a depth-first walk from the entry (then the
/// blocks the entry does not reach, last to first).
fn post_order(succs: &[Vec<BlockId>]) -> Vec<usize> {
    let nb = succs.len();
    let mut out = Vec::with_capacity(nb);
    let mut visited = vec![false; nb];
    let mut walk = |root: usize, out: &mut Vec<usize>| {
        if visited[root] {
            return;
        }
        visited[root] = true;
        // (block, index of the next successor to visit)
        let mut stack = vec![(root, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (b, i) = *top;
            match succs[b].get(i) {
                Some(s) => {
                    top.1 += 1;
                    let s = s.index();
                    if s < nb && !visited[s] {
                        visited[s] = true;
                        stack.push((s, 0));
                    }
                }
                None => {
                    out.push(b);
                    stack.pop();
                }
            }
        }
    };
    for root in 0..nb {
        walk(root, &mut out);
    }
    out
}
