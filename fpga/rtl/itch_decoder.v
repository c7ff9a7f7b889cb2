// Peregrine feed-decoding offload: MoldUDP64 + ITCH 5.0 streaming decoder.
//
// Input: one UDP payload per packet on a 64-bit AXI-Stream-style bus (byte 0 of the payload
// in s_tdata[7:0]). s_tkeep must be a contiguous run of ones from lane 0 (all ones on every
// beat but the last); a beat with s_tkeep == 0 and s_tlast == 1 ends an empty packet.
//
// Output: one stream (m_valid/m_ready/m_is_status/m_data) carrying, per packet, zero or more
// 64-byte normalized event records followed by exactly one status beat. The events of a packet
// are tentative until its status beat: the host DMA writes them into the event ring and
// publishes them only if the status says "delivered" (m_data[135:128] == 0); otherwise it
// rewinds. The framing of a MoldUDP64 packet is judged whole, as in the software subscriber,
// so a packet that turns out malformed at its last byte delivers nothing.
//
// Event record (byte j of the record at m_data[8*j +: 8], multi-byte fields little-endian):
//    0..8  seq              MoldUDP64 sequence number of the message
//    8..16 order_ref        A F E C X D P: order reference; U: original order reference
//   16..24 ref2             U: new order reference; E C P: match number; else 0
//   24..32 stock            A F P R H: the 8 stock bytes as on the wire; else 0
//   32..38 timestamp_ns     48 bits, nanoseconds since midnight
//   38..40 stock_locate
//   40..44 shares           A F P U: shares; E C: executed; X: cancelled; R: round lot size
//   44..48 price            A F P U: price; C: execution price; R: ETP leverage factor
//   48..50 tracking_number
//   50     kind             the ITCH type byte
//   51     side             A F P: 'B' or 'S'; else 0
//   52     code             S: event code; H: trading state; C: printable; R: market category
//   53..64 detail[11]       F: attribution[4]; H: reason[4]; R: financial status, bytes
//                           25..=33 of the message, inverse indicator; else 0
// Status beat: m_data[63:0] range first, [127:64] range end, [135:128] outcome code (see
// localparams OUT_*), rest 0.
//
// Throughput: the parser consumes at most 8 bytes a cycle and never crosses a field boundary
// (header, block length, block body) within one cycle, so a message block of L bytes takes
// 1 + ceil(L / 8) cycles and a packet adds 3 header cycles, 1 header-evaluation cycle and 1
// status cycle. Decoding a completed block overlaps the next block's length prefix.

`default_nettype none

module itch_decoder #(
    parameter integer COUNTER_BITS = 32
) (
    input  wire         clk,
    input  wire         rst,
    // Configuration, sampled when cfg_load is high (packet boundary only: load while idle).
    input  wire         cfg_load,
    input  wire [63:0]  cfg_first_seq,
    input  wire [79:0]  cfg_session,
    input  wire         cfg_session_fixed,
    // UDP payload in.
    input  wire [63:0]  s_tdata,
    input  wire [7:0]   s_tkeep,
    input  wire         s_tlast,
    input  wire         s_tvalid,
    output wire         s_tready,
    // Events and packet status out.
    output reg          m_valid,
    input  wire         m_ready,
    output reg          m_is_status,
    output reg  [511:0] m_data,
    // Sequence state.
    output reg  [63:0]  expected_seq,
    output reg  [63:0]  newest_end_seq,
    output reg          session_valid,
    output reg  [79:0]  session,
    output reg          ended,
    output wire         idle,
    output wire [19*COUNTER_BITS-1:0] counters
);

    // Outcome codes of the status beat.
    localparam [7:0] OUT_DELIVERED        = 8'd0;
    localparam [7:0] OUT_DUPLICATE        = 8'd1;
    localparam [7:0] OUT_HEARTBEAT        = 8'd2;
    localparam [7:0] OUT_END_OF_SESSION   = 8'd3;
    localparam [7:0] OUT_GAP              = 8'd4;
    localparam [7:0] OUT_HEADER_TRUNCATED = 8'd5;
    localparam [7:0] OUT_BAD_SESSION      = 8'd6;
    localparam [7:0] OUT_BLOCK_TRUNCATED  = 8'd7;
    localparam [7:0] OUT_COUNT_MISMATCH   = 8'd8;
    localparam [7:0] OUT_PAYLOAD_ON_CTRL  = 8'd9;
    localparam [7:0] OUT_SEQ_OVERFLOW     = 8'd10;
    localparam [7:0] OUT_WRONG_SESSION    = 8'd11;

    // Parser states.
    localparam [2:0] ST_HDR    = 3'd0;
    localparam [2:0] ST_EVAL   = 3'd1;
    localparam [2:0] ST_PREFIX = 3'd2;
    localparam [2:0] ST_BODY   = 3'd3;
    localparam [2:0] ST_DRAIN  = 3'd4;
    localparam [2:0] ST_FINISH = 3'd5;

    localparam [1:0] WALK_OK        = 2'd0;
    localparam [1:0] WALK_TRUNCATED = 2'd1;
    localparam [1:0] WALK_COUNT     = 2'd2;

    // ---------------------------------------------------------------------------------------
    // Byte accumulator: acc holds acc_count (0..16) bytes, oldest in acc[7:0]; bytes above
    // acc_count are zero. A beat is accepted only while at most 8 bytes remain after this
    // cycle's take, so the accumulator never overflows; the parser takes `take` bytes a cycle.
    // ---------------------------------------------------------------------------------------
    reg  [127:0] acc;
    reg  [4:0]   acc_count;
    reg          eop_seen;   // the packet's last beat is in acc
    reg  [2:0]   state;
    reg  [3:0]   take;       // combinational, 0..8

    function [3:0] keep_count;
        input [7:0] keep;
        integer k;
        reg run;
        begin
            keep_count = 4'd0;
            run = 1'b1;
            for (k = 0; k < 8; k = k + 1) begin
                run = run & keep[k];
                if (run) keep_count = keep_count + 4'd1;
            end
        end
    endfunction

    wire [3:0]  in_count = keep_count(s_tkeep);
    wire [63:0] in_mask  = (in_count == 4'd8) ? {64{1'b1}}
                         : ({64{1'b0}} | ((64'd1 << {in_count, 3'b000}) - 64'd1));
    wire [4:0] take_max = (acc_count > 5'd8) ? 5'd8 : acc_count;
    wire [4:0] rem_count = acc_count - {1'b0, take};
    // A beat is taken when what stays after this cycle's take leaves room for 8 more bytes,
    // so the parser keeps finding a full word after a short (length prefix) cycle.
    assign s_tready = !rst && !cfg_load && !eop_seen && (rem_count <= 5'd8);
    wire in_fire  = s_tvalid && s_tready;
    wire pkt_end  = eop_seen && (acc_count == 5'd0);
    wire [127:0] in_shifted = {64'd0, s_tdata & in_mask} << {rem_count, 3'b000};

    // ---------------------------------------------------------------------------------------
    // Per-packet registers.
    // ---------------------------------------------------------------------------------------
    reg  [159:0] hdr;         // the 20 header bytes, byte i at [8i +: 8]
    reg  [4:0]   hdr_pos;     // header bytes collected, 0..20
    reg  [1:0]   pre_pos;     // block length bytes collected, 0..2
    reg  [7:0]   pre_hi;      // first (high) byte of the block length
    reg  [15:0]  body_len;
    reg  [15:0]  body_pos;    // 0..body_len
    reg  [383:0] msgbuf;      // first 48 bytes of the block
    reg  [16:0]  seen;        // blocks completed, 0..count+1
    reg  [15:0]  msg_count;   // blocks the header announces (0 for control packets)
    reg  [63:0]  end_seq;
    reg  [63:0]  msg_seq;     // seq of the block being walked
    reg          is_control, is_eos, bad_session, seq_overflow, session_mismatch;
    reg          ahead, dup_pkt, deliverable, payload_seen, hdr_done;
    reg  [1:0]   walk_err;
    reg  [79:0]  pkt_session;

    // Completed block waiting for the decode stage.
    reg          msg_full;
    reg  [15:0]  msg_len;
    reg  [63:0]  msg_seq_q;
    reg  [383:0] msg_q;

    // Tentative per-packet message counters, committed when the packet is delivered.
    reg  [15:0]  t_delivered, t_dup, t_unknown, t_bad_len, t_bad_val, t_events;

    // Committed counters.
    reg  [COUNTER_BITS-1:0] c_packets, c_dropped, c_hdr_trunc, c_bad_sess, c_blk_trunc;
    reg  [COUNTER_BITS-1:0] c_count_mm, c_payload_ctrl, c_seq_ovf, c_wrong_sess, c_dup_pkts;
    reg  [COUNTER_BITS-1:0] c_ahead, c_heartbeats, c_eos, c_delivered, c_dup_msgs;
    reg  [COUNTER_BITS-1:0] c_unknown, c_bad_len, c_bad_val, c_events;

    assign counters = {c_events, c_bad_val, c_bad_len, c_unknown, c_dup_msgs, c_delivered,
                       c_eos, c_heartbeats, c_ahead, c_dup_pkts, c_wrong_sess, c_seq_ovf,
                       c_payload_ctrl, c_count_mm, c_blk_trunc, c_bad_sess, c_hdr_trunc,
                       c_dropped, c_packets};
    assign idle = (state == ST_HDR) && (acc_count == 5'd0) && !eop_seen && !msg_full && !m_valid;

    wire out_free = !m_valid || m_ready;

    // Byte write enables: header byte i and block byte i take accumulator byte (i - pos).
    wire [19:0] hdr_we;
    wire [7:0]  hdr_wb [0:19];
    wire [47:0] body_we;
    wire [7:0]  body_wb [0:47];
    wire [63:0] acc_lo = acc[63:0];
    genvar gw;
    generate
        for (gw = 0; gw < 20; gw = gw + 1) begin : g_hdr_we
            localparam [4:0] IDX = gw;
            wire [4:0] rel = IDX - hdr_pos;
            assign hdr_we[gw] = (IDX >= hdr_pos) && (rel < {1'b0, take});
            assign hdr_wb[gw] = acc_lo[{rel[2:0], 3'b000} +: 8];
        end
        for (gw = 0; gw < 48; gw = gw + 1) begin : g_body_we
            localparam [15:0] IDX = gw;
            wire [15:0] rel = IDX - body_pos;
            assign body_we[gw] = (IDX >= body_pos) && (rel < {12'd0, take});
            assign body_wb[gw] = acc_lo[{rel[2:0], 3'b000} +: 8];
        end
    endgenerate

    // ---------------------------------------------------------------------------------------
    // How many bytes the parser takes this cycle.
    // ---------------------------------------------------------------------------------------
    wire [4:0]  hdr_need  = 5'd20 - hdr_pos;
    wire [1:0]  pre_need  = 2'd2 - pre_pos;
    wire [15:0] body_need = body_len - body_pos;
    always @* begin
        case (state)
            ST_HDR:    take = (hdr_need < take_max) ? hdr_need[3:0] : take_max[3:0];
            ST_PREFIX: take = ({3'd0, pre_need} < take_max) ? {2'd0, pre_need} : take_max[3:0];
            ST_BODY:   take = msg_full ? 4'd0
                            : (body_need < {11'd0, take_max}) ? body_need[3:0] : take_max[3:0];
            ST_DRAIN:  take = take_max[3:0];
            default:   take = 4'd0;
        endcase
    end

    // ---------------------------------------------------------------------------------------
    // Header fields (valid in ST_EVAL).
    // ---------------------------------------------------------------------------------------
    function is_printable;
        input [7:0] b;
        begin
            is_printable = (b >= 8'h20) && (b <= 8'h7e);
        end
    endfunction

    wire [79:0] h_session = hdr[79:0];
    wire [63:0] h_seq = {hdr[87:80], hdr[95:88], hdr[103:96], hdr[111:104],
                         hdr[119:112], hdr[127:120], hdr[135:128], hdr[143:136]};
    wire [15:0] h_count = {hdr[151:144], hdr[159:152]};
    wire        h_control = (h_count == 16'd0) || (h_count == 16'hffff);
    wire [15:0] h_msgs = h_control ? 16'd0 : h_count;
    wire [64:0] h_end = {1'b0, h_seq} + {49'd0, h_msgs};
    reg         h_session_ok;
    integer si;
    always @* begin
        h_session_ok = 1'b1;
        for (si = 0; si < 10; si = si + 1)
            h_session_ok = h_session_ok & is_printable(hdr[8*si +: 8]);
    end

    // ---------------------------------------------------------------------------------------
    // Decode stage: judges and normalizes the completed block in msg_q.
    // ---------------------------------------------------------------------------------------
    wire        d_unknown;
    wire        d_bad_len;
    wire        d_bad_val;
    wire [511:0] d_event;
    itch_normalize u_normalize (
        .msg      (msg_q),
        .msg_len  (msg_len),
        .seq      (msg_seq_q),
        .unknown  (d_unknown),
        .bad_len  (d_bad_len),
        .bad_val  (d_bad_val),
        .event_record (d_event)
    );
    wire d_ok = !d_unknown && !d_bad_len && !d_bad_val;
    wire dec_fire = msg_full && out_free;

    // ---------------------------------------------------------------------------------------
    // Packet outcome (valid in ST_FINISH).
    // ---------------------------------------------------------------------------------------
    reg [7:0] outcome;
    always @* begin
        if (!hdr_done)                        outcome = OUT_HEADER_TRUNCATED;
        else if (bad_session)                 outcome = OUT_BAD_SESSION;
        else if (seq_overflow)                outcome = OUT_SEQ_OVERFLOW;
        else if (is_control && payload_seen)  outcome = OUT_PAYLOAD_ON_CTRL;
        else if (walk_err == WALK_TRUNCATED)  outcome = OUT_BLOCK_TRUNCATED;
        else if (walk_err == WALK_COUNT)      outcome = OUT_COUNT_MISMATCH;
        else if (!is_control && seen != {1'b0, msg_count}) outcome = OUT_COUNT_MISMATCH;
        else if (session_mismatch)            outcome = OUT_WRONG_SESSION;
        else if (ahead)                       outcome = OUT_GAP;
        else if (is_control && !is_eos)       outcome = OUT_HEARTBEAT;
        else if (is_eos)                      outcome = OUT_END_OF_SESSION;
        else if (dup_pkt)                     outcome = OUT_DUPLICATE;
        else                                  outcome = OUT_DELIVERED;
    end
    wire is_drop = (outcome >= OUT_HEADER_TRUNCATED);
    wire [63:0] newest_next = (end_seq > newest_end_seq) ? end_seq : newest_end_seq;
    wire finish_fire = (state == ST_FINISH) && !msg_full && out_free;

    // ---------------------------------------------------------------------------------------
    // Sequential logic.
    // ---------------------------------------------------------------------------------------
    integer i;
    always @(posedge clk) begin
        if (rst) begin
            acc <= 128'd0;
            acc_count <= 5'd0;
            eop_seen <= 1'b0;
            state <= ST_HDR;
            m_valid <= 1'b0;
            m_is_status <= 1'b0;
            m_data <= 512'd0;
            msg_full <= 1'b0;
            expected_seq <= 64'd1;
            newest_end_seq <= 64'd1;
            session_valid <= 1'b0;
            session <= 80'd0;
            ended <= 1'b0;
            {c_packets, c_dropped, c_hdr_trunc, c_bad_sess, c_blk_trunc} <= {5*COUNTER_BITS{1'b0}};
            {c_count_mm, c_payload_ctrl, c_seq_ovf, c_wrong_sess, c_dup_pkts} <= {5*COUNTER_BITS{1'b0}};
            {c_ahead, c_heartbeats, c_eos, c_delivered, c_dup_msgs} <= {5*COUNTER_BITS{1'b0}};
            {c_unknown, c_bad_len, c_bad_val, c_events} <= {4*COUNTER_BITS{1'b0}};
            hdr_pos <= 5'd0;
            hdr_done <= 1'b0;
            {t_delivered, t_dup, t_unknown, t_bad_len, t_bad_val, t_events} <= 96'd0;
        end else begin
            // Accumulator.
            acc <= (acc >> {take, 3'b000}) | (in_fire ? in_shifted : 128'd0);
            acc_count <= rem_count + (in_fire ? {1'b0, in_count} : 5'd0);
            if (in_fire && s_tlast) eop_seen <= 1'b1;

            if (cfg_load) begin
                expected_seq <= cfg_first_seq;
                newest_end_seq <= cfg_first_seq;
                session <= cfg_session;
                session_valid <= cfg_session_fixed;
                ended <= 1'b0;
            end

            // Output register: a beat leaves when the consumer takes it.
            if (m_valid && m_ready) m_valid <= 1'b0;

            // Decode stage.
            if (dec_fire) begin
                msg_full <= 1'b0;
                if (d_unknown) t_unknown <= t_unknown + 16'd1;
                if (d_bad_len) t_bad_len <= t_bad_len + 16'd1;
                if (d_bad_val) t_bad_val <= t_bad_val + 16'd1;
                if (d_ok) begin
                    t_events <= t_events + 16'd1;
                    m_valid <= 1'b1;
                    m_is_status <= 1'b0;
                    m_data <= d_event;
                end
            end

            case (state)
                ST_HDR: begin
                    for (i = 0; i < 20; i = i + 1)
                        if (hdr_we[i]) hdr[8*i +: 8] <= hdr_wb[i];
                    hdr_pos <= hdr_pos + {1'b0, take};
                    if (hdr_pos + {1'b0, take} == 5'd20) begin
                        hdr_done <= 1'b1;
                        state <= ST_EVAL;
                    end else if (pkt_end) begin
                        state <= ST_FINISH;
                    end
                end
                ST_EVAL: begin
                    pkt_session <= h_session;
                    msg_seq <= h_seq;
                    msg_count <= h_msgs;
                    end_seq <= h_end[63:0];
                    is_control <= h_control;
                    is_eos <= (h_count == 16'hffff);
                    bad_session <= !h_session_ok;
                    seq_overflow <= h_end[64];
                    session_mismatch <= session_valid && (h_session != session);
                    ahead <= (h_seq > expected_seq);
                    dup_pkt <= !h_control && (h_end[63:0] <= expected_seq);
                    deliverable <= !(session_valid && (h_session != session))
                                   && !(h_seq > expected_seq)
                                   && !(h_end[63:0] <= expected_seq);
                    seen <= 17'd0;
                    walk_err <= WALK_OK;
                    payload_seen <= 1'b0;
                    pre_pos <= 2'd0;
                    if (!h_session_ok || h_end[64] || h_control)
                        state <= ST_DRAIN;
                    else
                        state <= ST_PREFIX;
                end
                ST_PREFIX: begin
                    if (pre_pos + take[1:0] == 2'd2) begin
                        body_len <= (pre_pos == 2'd1) ? {pre_hi, acc[7:0]} : {acc[7:0], acc[15:8]};
                        body_pos <= 16'd0;
                        pre_pos <= 2'd0;
                        state <= ST_BODY;
                    end else if (take != 4'd0) begin
                        pre_hi <= acc[7:0];
                        pre_pos <= 2'd1;
                    end else if (pkt_end) begin
                        if (pre_pos != 2'd0) walk_err <= WALK_TRUNCATED;
                        state <= ST_FINISH;
                    end
                end
                ST_BODY: begin
                    if (!msg_full) begin
                        for (i = 0; i < 48; i = i + 1)
                            if (body_we[i]) msgbuf[8*i +: 8] <= body_wb[i];
                        body_pos <= body_pos + {12'd0, take};
                    end
                    if (!msg_full && (body_pos + {12'd0, take} == body_len)) begin
                        // Block complete.
                        if (seen + 17'd1 > {1'b0, msg_count}) begin
                            walk_err <= WALK_COUNT;
                            state <= ST_DRAIN;
                        end else begin
                            seen <= seen + 17'd1;
                            msg_seq <= msg_seq + 64'd1;
                            state <= ST_PREFIX;
                            if (deliverable && (msg_seq >= expected_seq)) begin
                                msg_full <= 1'b1;
                                msg_len <= body_len;
                                msg_seq_q <= msg_seq;
                                t_delivered <= t_delivered + 16'd1;
                            end else if (deliverable) begin
                                t_dup <= t_dup + 16'd1;
                            end
                        end
                    end else if (pkt_end) begin
                        walk_err <= WALK_TRUNCATED;
                        state <= ST_FINISH;
                    end
                end
                ST_DRAIN: begin
                    if (take != 4'd0) payload_seen <= 1'b1;
                    if (pkt_end) state <= ST_FINISH;
                end
                ST_FINISH: begin
                    if (finish_fire) begin
                        m_valid <= 1'b1;
                        m_is_status <= 1'b1;
                        m_data <= 512'd0;
                        m_data[135:128] <= outcome;
                        c_packets <= c_packets + 1'b1;
                        if (is_drop) c_dropped <= c_dropped + 1'b1;
                        case (outcome)
                            OUT_HEADER_TRUNCATED: c_hdr_trunc <= c_hdr_trunc + 1'b1;
                            OUT_BAD_SESSION:      c_bad_sess <= c_bad_sess + 1'b1;
                            OUT_BLOCK_TRUNCATED:  c_blk_trunc <= c_blk_trunc + 1'b1;
                            OUT_COUNT_MISMATCH:   c_count_mm <= c_count_mm + 1'b1;
                            OUT_PAYLOAD_ON_CTRL:  c_payload_ctrl <= c_payload_ctrl + 1'b1;
                            OUT_SEQ_OVERFLOW:     c_seq_ovf <= c_seq_ovf + 1'b1;
                            OUT_WRONG_SESSION:    c_wrong_sess <= c_wrong_sess + 1'b1;
                            OUT_DUPLICATE:        c_dup_pkts <= c_dup_pkts + 1'b1;
                            OUT_GAP:              c_ahead <= c_ahead + 1'b1;
                            OUT_HEARTBEAT:        c_heartbeats <= c_heartbeats + 1'b1;
                            OUT_END_OF_SESSION:   c_eos <= c_eos + 1'b1;
                            default: begin
                            end
                        endcase
                        if (!is_drop) begin
                            newest_end_seq <= newest_next;
                            if (!session_valid) begin
                                session_valid <= 1'b1;
                                session <= pkt_session;
                            end
                            if (is_eos) ended <= 1'b1;
                        end
                        if (outcome == OUT_GAP) begin
                            m_data[63:0] <= expected_seq;
                            m_data[127:64] <= newest_next;
                        end
                        if (outcome == OUT_DELIVERED) begin
                            m_data[63:0] <= expected_seq;
                            m_data[127:64] <= end_seq;
                            expected_seq <= end_seq;
                            c_delivered <= c_delivered + {{(COUNTER_BITS-16){1'b0}}, t_delivered};
                            c_dup_msgs <= c_dup_msgs + {{(COUNTER_BITS-16){1'b0}}, t_dup};
                            c_unknown <= c_unknown + {{(COUNTER_BITS-16){1'b0}}, t_unknown};
                            c_bad_len <= c_bad_len + {{(COUNTER_BITS-16){1'b0}}, t_bad_len};
                            c_bad_val <= c_bad_val + {{(COUNTER_BITS-16){1'b0}}, t_bad_val};
                            c_events <= c_events + {{(COUNTER_BITS-16){1'b0}}, t_events};
                        end
                        {t_delivered, t_dup, t_unknown, t_bad_len, t_bad_val, t_events} <= 96'd0;
                        hdr_pos <= 5'd0;
                        hdr_done <= 1'b0;
                        eop_seen <= 1'b0;
                        state <= ST_HDR;
                    end
                end
                default: state <= ST_HDR;
            endcase
            // The decode stage reads msg_q; the walk fills msgbuf. Copy on completion.
            if (state == ST_BODY && !msg_full && (body_pos + {12'd0, take} == body_len)) begin
                for (i = 0; i < 48; i = i + 1)
                    msg_q[8*i +: 8] <= body_we[i] ? body_wb[i] : msgbuf[8*i +: 8];
            end
        end
    end

endmodule

`default_nettype wire
