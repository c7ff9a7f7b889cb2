//! FPGA feed-decoding offload (issue 9): the Verilog decoder in `rtl/`, its Verilator
//! co-simulation, and the host interface a PCIe card would present.
