// C ABI over the Verilated itch_decoder model, for the Rust crate (src/rtl.rs).
//
// One PfModel owns a VerilatedContext and the model. The Rust side drives one clock cycle as:
// pf_set_inputs, pf_eval (combinational outputs settle), pf_get_outputs, pf_tick (rising edge).
// The structs below mirror `#[repr(C)]` structs in src/rtl.rs field for field.

#include <cstdint>
#include <cstring>

#include "Vitch_decoder.h"
#include "verilated.h"

struct PfInputs {
    uint64_t cfg_first_seq;
    uint64_t s_tdata;
    uint8_t cfg_session[10];
    uint8_t rst;
    uint8_t cfg_load;
    uint8_t cfg_session_fixed;
    uint8_t s_tkeep;
    uint8_t s_tlast;
    uint8_t s_tvalid;
    uint8_t m_ready;
    uint8_t pad[7];
};

struct PfOutputs {
    uint64_t expected_seq;
    uint64_t newest_end_seq;
    uint32_t m_data[16];
    uint32_t counters[19];
    uint8_t session[10];
    uint8_t s_tready;
    uint8_t m_valid;
    uint8_t m_is_status;
    uint8_t session_valid;
    uint8_t ended;
    uint8_t idle;
    uint8_t pad[4];
};

struct PfModel {
    VerilatedContext context;
    Vitch_decoder* top;
};

// Packs 10 wire bytes into an 80-bit port (byte i at bits [8i +: 8]).
static void pack_session(VlWide<3>& port, const uint8_t* bytes) {
    uint32_t words[3] = {0, 0, 0};
    for (int i = 0; i < 10; ++i) words[i / 4] |= uint32_t(bytes[i]) << (8 * (i % 4));
    for (int i = 0; i < 3; ++i) port[i] = words[i];
}

static void unpack_session(const VlWide<3>& port, uint8_t* bytes) {
    for (int i = 0; i < 10; ++i) bytes[i] = uint8_t(port[i / 4] >> (8 * (i % 4)));
}

extern "C" {

PfModel* pf_model_new() {
    PfModel* model = new PfModel;
    model->top = new Vitch_decoder(&model->context, "itch_decoder");
    model->top->clk = 0;
    model->top->rst = 1;
    model->top->eval();
    return model;
}

void pf_model_free(PfModel* model) {
    if (model == nullptr) return;
    model->top->final();
    delete model->top;
    delete model;
}

void pf_set_inputs(PfModel* model, const PfInputs* in) {
    Vitch_decoder* top = model->top;
    top->rst = in->rst;
    top->cfg_load = in->cfg_load;
    top->cfg_first_seq = in->cfg_first_seq;
    pack_session(top->cfg_session, in->cfg_session);
    top->cfg_session_fixed = in->cfg_session_fixed;
    top->s_tdata = in->s_tdata;
    top->s_tkeep = in->s_tkeep;
    top->s_tlast = in->s_tlast;
    top->s_tvalid = in->s_tvalid;
    top->m_ready = in->m_ready;
}

void pf_eval(PfModel* model) { model->top->eval(); }

void pf_get_outputs(PfModel* model, PfOutputs* out) {
    Vitch_decoder* top = model->top;
    out->expected_seq = top->expected_seq;
    out->newest_end_seq = top->newest_end_seq;
    for (int i = 0; i < 16; ++i) out->m_data[i] = top->m_data[i];
    for (int i = 0; i < 19; ++i) out->counters[i] = top->counters[i];
    unpack_session(top->session, out->session);
    out->s_tready = top->s_tready;
    out->m_valid = top->m_valid;
    out->m_is_status = top->m_is_status;
    out->session_valid = top->session_valid;
    out->ended = top->ended;
    out->idle = top->idle;
}

// One rising clock edge, then the falling edge (outputs are registered on the rising edge).
void pf_tick(PfModel* model) {
    Vitch_decoder* top = model->top;
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
    model->context.timeInc(1);
}

}  // extern "C"
