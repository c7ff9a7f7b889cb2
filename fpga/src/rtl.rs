//! The Verilated `itch_decoder` model behind a safe, cycle-level Rust API.
//!
//! `build.rs` verilates `rtl/*.v` and links it with `csrc/shim.cpp`, whose C functions are
//! declared here. One cycle is: write [`RtlModel::inputs`], [`RtlModel::settle`] (evaluate the
//! combinational logic and read every output), then [`RtlModel::tick`] (rising clock edge).
//!
//! # Invariants
//! - `RtlModel` owns exactly one model; the pointer is non-null from `new` until `drop`.
//! - `Inputs` and `Outputs` mirror the C structs `PfInputs`/`PfOutputs` field for field
//!   (`#[repr(C)]`, sizes asserted at compile time).

use core::ffi::c_void;
use core::ptr::NonNull;

use crate::event::COUNTER_COUNT;

/// The model's inputs for the next cycle.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Inputs {
    pub cfg_first_seq: u64,
    /// Payload bytes of this beat, byte 0 in the low 8 bits.
    pub s_tdata: u64,
    pub cfg_session: [u8; 10],
    pub rst: u8,
    pub cfg_load: u8,
    pub cfg_session_fixed: u8,
    /// Contiguous from lane 0.
    pub s_tkeep: u8,
    pub s_tlast: u8,
    pub s_tvalid: u8,
    pub m_ready: u8,
    pad: [u8; 7],
}

/// Everything the model drives, read after [`RtlModel::settle`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Outputs {
    pub expected_seq: u64,
    pub newest_end_seq: u64,
    /// The output beat: an event record or a status beat, 32-bit words, word 0 lowest.
    pub m_data: [u32; 16],
    pub counters: [u32; COUNTER_COUNT],
    pub session: [u8; 10],
    pub s_tready: u8,
    pub m_valid: u8,
    pub m_is_status: u8,
    pub session_valid: u8,
    pub ended: u8,
    pub idle: u8,
    pad: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<Inputs>() == 40);
const _: () = assert!(core::mem::size_of::<Outputs>() == 16 + 64 + 4 * COUNTER_COUNT + 20);

extern "C" {
    fn pf_model_new() -> *mut c_void;
    fn pf_model_free(model: *mut c_void);
    fn pf_set_inputs(model: *mut c_void, inputs: *const Inputs);
    fn pf_eval(model: *mut c_void);
    fn pf_get_outputs(model: *mut c_void, outputs: *mut Outputs);
    fn pf_tick(model: *mut c_void);
}

/// One Verilated decoder, reset and ready.
pub struct RtlModel {
    model: NonNull<c_void>,
    /// Inputs applied at the next [`settle`](Self::settle).
    pub inputs: Inputs,
    outputs: Outputs,
    cycles: u64,
}

impl RtlModel {
    /// Builds the model and holds reset for two cycles.
    pub fn new() -> RtlModel {
        // SAFETY: pf_model_new has no preconditions; it returns a heap object or aborts
        // (C++ `new` throws, and an uncaught exception terminates).
        let raw = unsafe { pf_model_new() };
        let model = NonNull::new(raw).expect("pf_model_new returned null");
        let mut rtl = RtlModel {
            model,
            inputs: Inputs::default(),
            outputs: Outputs::default(),
            cycles: 0,
        };
        rtl.inputs.rst = 1;
        for _ in 0..2 {
            rtl.settle();
            rtl.tick();
        }
        rtl.inputs.rst = 0;
        rtl.settle();
        rtl.cycles = 0;
        rtl
    }

    /// Applies [`inputs`](Self::inputs), evaluates, and returns the outputs of this cycle.
    pub fn settle(&mut self) -> &Outputs {
        // SAFETY: `model` is live (see Invariants); the shim reads `Inputs` and writes
        // `Outputs` through pointers to structs of the C layout, valid for the call.
        unsafe {
            pf_set_inputs(self.model.as_ptr(), &self.inputs);
            pf_eval(self.model.as_ptr());
            pf_get_outputs(self.model.as_ptr(), &mut self.outputs);
        }
        &self.outputs
    }

    /// The outputs read by the last [`settle`](Self::settle).
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// One rising clock edge.
    pub fn tick(&mut self) {
        // SAFETY: `model` is live; pf_tick only touches the model.
        unsafe { pf_tick(self.model.as_ptr()) };
        self.cycles += 1;
    }

    /// Clock cycles since reset ended.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }
}

impl Default for RtlModel {
    fn default() -> Self {
        RtlModel::new()
    }
}

impl Drop for RtlModel {
    fn drop(&mut self) {
        // SAFETY: `model` came from pf_model_new and is freed once, here.
        unsafe { pf_model_free(self.model.as_ptr()) };
    }
}
