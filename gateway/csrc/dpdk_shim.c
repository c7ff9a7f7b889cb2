/*
 * Peregrine's DPDK shim: the few DPDK calls the Rust side needs, as real (non-inline)
 * functions. rte_eth_rx_burst, rte_eth_tx_burst and the rte_pktmbuf_* helpers are static
 * inline in DPDK's headers, so hand-written Rust FFI cannot call them directly.
 *
 * Built by gateway/build.rs only with the cargo feature `dpdk` (DPDK 22.11, pkg-config).
 * Every function returns DPDK's own return code; the Rust side turns codes into errors.
 */
#include <rte_config.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <string.h>

int pg_dpdk_eal_init(int argc, char **argv) { return rte_eal_init(argc, argv); }

struct rte_mempool *pg_dpdk_pool_create(const char *name, unsigned count, unsigned cache,
                                        unsigned data_room) {
    return rte_pktmbuf_pool_create(name, count, cache, 0, (uint16_t)data_room,
                                   (int)rte_socket_id());
}

/* A virtual device (e.g. net_af_packet on an interface) added after EAL start, probed in the
 * calling thread (so in its network namespace), and removed again. */
int pg_dpdk_vdev_add(const char *name, const char *args) {
    return rte_eal_hotplug_add("vdev", name, args);
}

int pg_dpdk_vdev_remove(const char *name) { return rte_eal_hotplug_remove("vdev", name); }

void pg_dpdk_pool_free(struct rte_mempool *pool) { rte_mempool_free(pool); }

/* Gives the calling (non-EAL) thread an lcore id, so mempool calls use a per-lcore cache. */
int pg_dpdk_thread_register(void) { return rte_thread_register(); }

void pg_dpdk_thread_unregister(void) { rte_thread_unregister(); }

int pg_dpdk_port_by_name(const char *name, uint16_t *port) {
    return rte_eth_dev_get_port_by_name(name, port);
}

/* One RX and one TX queue, started, promiscuous (the node filters by address itself). */
int pg_dpdk_port_start(uint16_t port, struct rte_mempool *pool, uint16_t rx_desc,
                       uint16_t tx_desc) {
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    int rc = rte_eth_dev_configure(port, 1, 1, &conf);
    if (rc != 0) return rc;
    int socket = rte_eth_dev_socket_id(port);
    rc = rte_eth_rx_queue_setup(port, 0, rx_desc, (unsigned)socket, NULL, pool);
    if (rc != 0) return rc;
    rc = rte_eth_tx_queue_setup(port, 0, tx_desc, (unsigned)socket, NULL);
    if (rc != 0) return rc;
    rc = rte_eth_dev_start(port);
    if (rc != 0) return rc;
    rte_eth_promiscuous_enable(port);
    return 0;
}

int pg_dpdk_port_mac(uint16_t port, uint8_t out[6]) {
    struct rte_ether_addr addr;
    int rc = rte_eth_macaddr_get(port, &addr);
    if (rc == 0) memcpy(out, addr.addr_bytes, 6);
    return rc;
}

void pg_dpdk_port_stop(uint16_t port) {
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
}

uint16_t pg_dpdk_rx_burst(uint16_t port, struct rte_mbuf **mbufs, uint16_t count) {
    return rte_eth_rx_burst(port, 0, mbufs, count);
}

uint16_t pg_dpdk_tx_burst(uint16_t port, struct rte_mbuf **mbufs, uint16_t count) {
    return rte_eth_tx_burst(port, 0, mbufs, count);
}

struct rte_mbuf *pg_dpdk_alloc(struct rte_mempool *pool) { return rte_pktmbuf_alloc(pool); }

void pg_dpdk_free(struct rte_mbuf *mbuf) { rte_pktmbuf_free(mbuf); }

uint8_t *pg_dpdk_data(struct rte_mbuf *mbuf) { return rte_pktmbuf_mtod(mbuf, uint8_t *); }

uint16_t pg_dpdk_data_len(const struct rte_mbuf *mbuf) { return mbuf->data_len; }

/* Bytes writable after the data start of a freshly allocated mbuf. */
uint16_t pg_dpdk_room(const struct rte_mbuf *mbuf) { return rte_pktmbuf_tailroom(mbuf); }

void pg_dpdk_set_len(struct rte_mbuf *mbuf, uint16_t len) {
    mbuf->data_len = len;
    mbuf->pkt_len = len;
}
