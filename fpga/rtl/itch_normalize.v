// Peregrine feed-decoding offload: ITCH 5.0 message judgement and normalization.
// See itch_decoder.v for the event record layout.

`default_nettype none

// Judges one complete message block and builds its normalized event record (pure logic).
module itch_normalize (
    input  wire [383:0] msg,
    input  wire [15:0]  msg_len,
    input  wire [63:0]  seq,
    output reg          unknown,
    output reg          bad_len,
    output reg          bad_val,
    output reg  [511:0] event_record
);
    localparam [47:0] NS_PER_DAY = 48'd86400000000000;

    wire [7:0] b [0:47];
    genvar g;
    generate
        for (g = 0; g < 48; g = g + 1) begin : g_b
            assign b[g] = msg[8*g +: 8];
        end
    endgenerate

    function pr;
        input [7:0] x;
        begin
            pr = (x >= 8'h20) && (x <= 8'h7e);
        end
    endfunction

    function yn;
        input [7:0] x;
        begin
            yn = (x == "Y") || (x == "N");
        end
    endfunction

    function yns;
        input [7:0] x;
        begin
            yns = (x == "Y") || (x == "N") || (x == " ");
        end
    endfunction

    wire [7:0]  kind = b[0];
    wire [47:0] ts = {b[5], b[6], b[7], b[8], b[9], b[10]};
    wire        ts_ok = ts < NS_PER_DAY;
    wire        side_ok = (b[19] == "B") || (b[19] == "S");
    wire        stock24_ok = pr(b[24]) && pr(b[25]) && pr(b[26]) && pr(b[27])
                          && pr(b[28]) && pr(b[29]) && pr(b[30]) && pr(b[31]);
    wire        stock11_ok = pr(b[11]) && pr(b[12]) && pr(b[13]) && pr(b[14])
                          && pr(b[15]) && pr(b[16]) && pr(b[17]) && pr(b[18]);
    wire [63:0] be64_11 = {b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18]};
    wire [63:0] be64_19 = {b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26]};
    wire [63:0] be64_23 = {b[23], b[24], b[25], b[26], b[27], b[28], b[29], b[30]};
    wire [63:0] be64_36 = {b[36], b[37], b[38], b[39], b[40], b[41], b[42], b[43]};
    wire [31:0] be32_19 = {b[19], b[20], b[21], b[22]};
    wire [31:0] be32_20 = {b[20], b[21], b[22], b[23]};
    wire [31:0] be32_21 = {b[21], b[22], b[23], b[24]};
    wire [31:0] be32_27 = {b[27], b[28], b[29], b[30]};
    wire [31:0] be32_31 = {b[31], b[32], b[33], b[34]};
    wire [31:0] be32_32 = {b[32], b[33], b[34], b[35]};
    wire [31:0] be32_34 = {b[34], b[35], b[36], b[37]};
    wire [63:0] stock24 = {b[31], b[30], b[29], b[28], b[27], b[26], b[25], b[24]};
    wire [63:0] stock11 = {b[18], b[17], b[16], b[15], b[14], b[13], b[12], b[11]};

    wire r_ok = stock11_ok
        && ((b[19] == "Q") || (b[19] == "G") || (b[19] == "S") || (b[19] == "N")
            || (b[19] == "A") || (b[19] == "P") || (b[19] == "Z") || (b[19] == "V")
            || (b[19] == " "))
        && ((b[20] == "D") || (b[20] == "E") || (b[20] == "Q") || (b[20] == "S")
            || (b[20] == "G") || (b[20] == "H") || (b[20] == "J") || (b[20] == "K")
            || (b[20] == "C") || (b[20] == "N") || (b[20] == " "))
        && yn(b[25]) && pr(b[26]) && pr(b[27]) && pr(b[28])
        && ((b[29] == "P") || (b[29] == "T"))
        && yns(b[30]) && yns(b[31])
        && ((b[32] == "1") || (b[32] == "2") || (b[32] == " "))
        && yns(b[33]) && yn(b[38]);
    wire h_ok = stock11_ok
        && ((b[19] == "H") || (b[19] == "P") || (b[19] == "Q") || (b[19] == "T"))
        && pr(b[21]) && pr(b[22]) && pr(b[23]) && pr(b[24]);
    wire s_ok = (b[11] == "O") || (b[11] == "S") || (b[11] == "Q") || (b[11] == "M")
             || (b[11] == "E") || (b[11] == "C");
    wire f_ok = pr(b[36]) && pr(b[37]) && pr(b[38]) && pr(b[39]);

    reg [15:0] want_len;
    reg        values_ok;
    reg [63:0] order_ref, ref2, stock;
    reg [31:0] shares, price;
    reg [7:0]  side, code;
    reg [87:0] detail;
    always @* begin
        want_len = 16'd0;
        values_ok = 1'b1;
        order_ref = 64'd0;
        ref2 = 64'd0;
        stock = 64'd0;
        shares = 32'd0;
        price = 32'd0;
        side = 8'd0;
        code = 8'd0;
        detail = 88'd0;
        case (kind)
            "A": begin
                want_len = 16'd36; values_ok = side_ok && stock24_ok;
                order_ref = be64_11; side = b[19]; shares = be32_20; stock = stock24;
                price = be32_32;
            end
            "F": begin
                want_len = 16'd40; values_ok = side_ok && stock24_ok && f_ok;
                order_ref = be64_11; side = b[19]; shares = be32_20; stock = stock24;
                price = be32_32; detail[31:0] = {b[39], b[38], b[37], b[36]};
            end
            "E": begin
                want_len = 16'd31;
                order_ref = be64_11; shares = be32_19; ref2 = be64_23;
            end
            "C": begin
                want_len = 16'd36; values_ok = yn(b[31]);
                order_ref = be64_11; shares = be32_19; ref2 = be64_23; code = b[31];
                price = be32_32;
            end
            "X": begin
                want_len = 16'd23;
                order_ref = be64_11; shares = be32_19;
            end
            "D": begin
                want_len = 16'd19;
                order_ref = be64_11;
            end
            "U": begin
                want_len = 16'd35;
                order_ref = be64_11; ref2 = be64_19; shares = be32_27; price = be32_31;
            end
            "P": begin
                want_len = 16'd44; values_ok = side_ok && stock24_ok;
                order_ref = be64_11; side = b[19]; shares = be32_20; stock = stock24;
                price = be32_32; ref2 = be64_36;
            end
            "S": begin
                want_len = 16'd12; values_ok = s_ok; code = b[11];
            end
            "R": begin
                want_len = 16'd39; values_ok = r_ok;
                stock = stock11; code = b[19]; shares = be32_21; price = be32_34;
                detail = {b[38], b[33], b[32], b[31], b[30], b[29], b[28], b[27], b[26],
                          b[25], b[20]};
            end
            "H": begin
                want_len = 16'd25; values_ok = h_ok;
                stock = stock11; code = b[19]; detail[31:0] = {b[24], b[23], b[22], b[21]};
            end
            default: begin
                want_len = 16'd0;
            end
        endcase
        // Judgement order of the software parser: no bytes, unknown type, length, values.
        unknown = (msg_len != 16'd0) && (want_len == 16'd0);
        bad_len = (msg_len == 16'd0) || (!unknown && (msg_len != want_len));
        bad_val = !unknown && !bad_len && !(ts_ok && values_ok);
        event_record = {detail, code, side, kind, {b[3], b[4]}, price, shares,
                        {b[1], b[2]}, {b[5], b[6], b[7], b[8], b[9], b[10]},
                        stock, ref2, order_ref, seq};
    end
endmodule


`default_nettype wire
