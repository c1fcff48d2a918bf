// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_INSTANCE_*` and `NITRO_IOC_HV_*`: instances, and the command
//! channel of their hypervisors. What the controller does with them is
//! `instances.rs`; this file only turns ABI structs into its calls and back.

use super::{ensure, field, split};
use crate::{
    abi_rules::{all_zero, fill_name},
    controller::Controller,
    instances::{self, Done, NewInstance, Stats},
    kapi,
    lifecycle::{self, InstanceOp, InstanceState, INSTANCE_TYPES},
    state, uapi,
    user::{read_bytes, read_element, write_bytes, write_element, InOut},
};
use kernel::{prelude::*, transmute::AsBytes};

/// Bytes allowed in an instance type's name: a name byte.
fn type_byte(b: u8) -> bool {
    state::name_byte(b)
}

/// `NITRO_IOC_INSTANCE_CREATE`: create, or run (create and start).
pub(super) fn create(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = (|| -> Result<u64> {
        let mut c = InOut::<uapi::nitro_instance_create>::read(arg)?;
        let v = &c.val;
        ensure(v.flags & !uapi::NITRO_INSTANCE_START == 0 && v.id == 0)?;
        ensure(v.reserved == 0 && v.pad == 0)?;
        let len = v.command_len as usize;
        ensure((2..=uapi::NITRO_COMMAND_MAX as usize).contains(&len) && v.command != 0)?;
        let command = read_bytes(v.command, len)?;
        ensure(
            lifecycle::check_command(&command, uapi::NITRO_COMMAND_ARGS_MAX as usize).is_some(),
        )?;
        let new = NewInstance {
            type_name: field(&v.type_, type_byte)?,
            name: field(&v.name, state::name_byte)?,
            host: v.host,
            command,
            start: v.flags & uapi::NITRO_INSTANCE_START != 0,
        };
        c.probe_writable()?;
        let id = instances::create(ctrl, new)?;
        c.val.id = id;
        if let Err(e) = c.write_back() {
            // The caller cannot learn the id: nothing is left of it.
            let _ = instances::terminate(ctrl, id);
            return Err(e);
        }
        Ok(id)
    })();
    split(r)
}

/// `NITRO_IOC_INSTANCE_START`, `_STOP` and `_TERMINATE`.
pub(super) fn op(ctrl: &Controller, arg: usize, op: InstanceOp) -> (u64, Result) {
    let mut o = match InOut::<uapi::nitro_instance_op>::read(arg) {
        Ok(o) => o,
        Err(e) => return (0, Err(e)),
    };
    let id = o.val.id;
    let r = (|| -> Result {
        let allowed = if op == InstanceOp::Stop {
            uapi::NITRO_STOP_FORCE
        } else {
            0
        };
        ensure(o.val.flags & !allowed == 0 && o.val.state == 0 && o.val.reserved == 0)?;
        o.probe_writable()?;
        let state = match op {
            InstanceOp::Start => instances::start(ctrl, id)?,
            InstanceOp::Stop => {
                instances::stop(ctrl, id, o.val.flags & uapi::NITRO_STOP_FORCE != 0)?
            }
            InstanceOp::Terminate => instances::terminate(ctrl, id)?,
        };
        o.val.state = state as u32;
        o.write_back()
    })();
    (id, r)
}

/// `NITRO_IOC_INSTANCE_DESCRIBE`.
pub(super) fn describe(ctrl: &Controller, arg: usize) -> Result {
    let mut d = InOut::<uapi::nitro_instance_describe>::read(arg)?;
    ensure(d.val.reserved == 0 && all_zero(d.val.info.as_bytes()))?;
    d.val.info = instances::describe(ctrl, d.val.id)?;
    d.write_back()
}

/// `NITRO_IOC_INSTANCE_LIST`: live and terminated instances, by id.
pub(super) fn list(ctrl: &Controller, arg: usize) -> Result {
    super::list(arg, uapi::NITRO_INSTANCE_INFO_SIZE_VER0, |after, cap| {
        let (ids, more) = instances::list_ids(ctrl, after, cap)?;
        let mut out = KVVec::with_capacity(ids.len(), GFP_KERNEL)?;
        for id in ids.iter() {
            // One that terminated and left the ring meanwhile is skipped.
            if let Ok(info) = instances::describe(ctrl, *id) {
                out.push((*id, info), GFP_KERNEL)?;
            }
        }
        Ok((out, more))
    })
}

/// `NITRO_IOC_INSTANCE_WAIT`.
pub(super) fn wait(ctrl: &Controller, arg: usize) -> Result {
    let mut w = InOut::<uapi::nitro_instance_wait>::read(arg)?;
    let all = InstanceState::ALL.iter().fold(0, |m, s| m | s.bit());
    ensure(w.val.states != 0 && w.val.states & !all == 0 && w.val.state == 0)?;
    w.probe_writable()?;
    w.val.state = instances::wait(ctrl, w.val.id, w.val.states, w.val.timeout_ms)?;
    w.write_back()
}

/// `NITRO_IOC_INSTANCE_TYPES`: the table of instance types (cursor:
/// position + 1).
pub(super) fn types(arg: usize) -> Result {
    super::list(arg, uapi::NITRO_INSTANCE_TYPE_SIZE_VER0, |after, cap| {
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let mut out = KVVec::new();
        for (i, t) in INSTANCE_TYPES.iter().enumerate().skip(start).take(cap) {
            let mut e = uapi::nitro_instance_type {
                vcpus: t.vcpus,
                pids: t.pids,
                memory_bytes: t.memory_bytes,
                max_volumes: t.max_volumes,
                max_enis: t.max_enis,
                instance_store_bytes: t.instance_store_bytes,
                bw_bps: t.bw_bps,
                pps: t.pps,
                ..Default::default()
            };
            fill_name(&mut e.name, t.name);
            out.push((i as u64 + 1, e), GFP_KERNEL)?;
        }
        let more = start.saturating_add(cap) < INSTANCE_TYPES.len();
        Ok((out, more))
    })
}

/// `NITRO_IOC_INSTANCE_CONSOLE`: the instance's output, the end of it if it
/// does not fit.
pub(super) fn console(ctrl: &Controller, arg: usize) -> Result {
    let mut c = InOut::<uapi::nitro_instance_console>::read(arg)?;
    ensure(c.val.reserved == 0 && c.val.len == 0)?;
    ensure(c.val.buf != 0 || c.val.cap == 0)?;
    c.probe_writable()?;
    let out = instances::console(ctrl, c.val.id)?;
    let n = out.len().min(c.val.cap as usize);
    write_bytes(c.val.buf, &out[out.len() - n..])?;
    c.val.len = n as u32;
    c.write_back()
}

/// `NITRO_IOC_HV_REGISTER`: audited under the host.
pub(super) fn hv_register(ctrl: &Controller, file: u64, arg: usize) -> (u64, Result) {
    let r = match InOut::<uapi::nitro_hv_register>::read(arg) {
        Ok(r) => r,
        Err(e) => return (0, Err(e)),
    };
    let host = r.val.host;
    let result = ensure(r.val.flags == 0 && r.val.reserved == 0)
        .and_then(|()| instances::hv_register(ctrl, file, host));
    (u64::from(host), result)
}

/// `NITRO_IOC_HV_NEXT`: the reports in, the next command out. A command
/// that cannot be written out is failed (`EFAULT`), so that nothing waits
/// for it.
pub(super) fn hv_next(ctrl: &Controller, file: u64, arg: usize) -> Result {
    let mut c = InOut::<uapi::nitro_hv_command>::read(arg)?;
    let v = &c.val;
    ensure(v.op == 0 && v.seq == 0 && v.instance == 0 && v.reserved == 0)?;
    ensure(v.nexited <= uapi::NITRO_INSTANCES_MAX && (v.exited != 0 || v.nexited == 0))?;
    ensure(v.devices != 0 && v.args != 0)?;
    let mut exited = KVec::with_capacity(v.nexited as usize, GFP_KERNEL)?;
    for i in 0..v.nexited {
        let id: u64 = read_element(v.exited, i, 8, 8)?;
        exited.push(id, GFP_KERNEL)?;
    }
    c.probe_writable()?;
    let cmd = instances::hv_next(ctrl, file, &exited, v.timeout_ms)?;
    let written = (|| -> Result {
        let min = uapi::NITRO_HV_DEVICE_SIZE_VER0 as usize;
        ensure(cmd.devices.len() <= uapi::NITRO_HV_DEVICES_MAX as usize)?;
        for (i, d) in cmd.devices.iter().enumerate() {
            write_element(c.val.devices, i as u32, 0, min, d)?;
        }
        write_bytes(c.val.args, &cmd.args)?;
        let v = &mut c.val;
        v.op = cmd.op;
        v.seq = cmd.seq;
        v.instance = cmd.instance;
        v.slot = cmd.slot;
        v.vcpus = cmd.vcpus;
        v.pids = cmd.pids;
        v.memory_bytes = cmd.memory_bytes;
        v.grace_ms = cmd.grace_ms;
        v.ndevices = cmd.devices.len() as u32;
        v.args_len = cmd.args.len() as u32;
        c.write_back()
    })();
    if let Err(e) = written {
        let failed = Done {
            seq: cmd.seq,
            error: EFAULT.to_errno().abs(),
            pid: 0,
            stats: None,
            data: KVVec::new(),
        };
        let _ = instances::hv_done(ctrl, file, failed);
        return Err(e);
    }
    Ok(())
}

/// `NITRO_IOC_HV_DONE`.
pub(super) fn hv_done(ctrl: &Controller, file: u64, arg: usize) -> Result {
    let d = InOut::<uapi::nitro_hv_result>::read(arg)?;
    let v = &d.val;
    ensure(v.reserved == 0 && (0..4096).contains(&v.error))?;
    ensure(v.len <= uapi::NITRO_CONSOLE_MAX && (v.buf != 0 || v.len == 0))?;
    let stats = if v.error == 0 && v.cpu_stat_fd >= 0 {
        Some(Stats {
            cpu: kapi::file_from_fd(v.cpu_stat_fd)?,
            memory: kapi::file_from_fd(v.memory_fd)?,
            peak: kapi::file_from_fd(v.memory_peak_fd)?,
        })
    } else {
        None
    };
    let data = if v.len > 0 {
        let bytes = read_bytes(v.buf, v.len as usize)?;
        let mut out = KVVec::with_capacity(bytes.len(), GFP_KERNEL)?;
        out.extend_from_slice(&bytes, GFP_KERNEL)?;
        out
    } else {
        KVVec::new()
    };
    let done = Done {
        seq: v.seq,
        error: v.error,
        pid: v.pid,
        stats,
        data,
    };
    instances::hv_done(ctrl, file, done)
}
