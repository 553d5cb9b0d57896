// SPDX-License-Identifier: MIT OR GPL-2.0
//
// Bytes per socket, counted where the kernel moves them.
//
// cgroup_skb ingress and egress (attached to the cgroup v2 root, so every
// socket of every process) add each packet's payload to its socket's
// counters in `traffic`, keyed by the socket cookie. cgroup/sock_create
// records who made a socket (pid, uid, command name, program file name) in
// the socket's own storage, which the kernel copies to every connection a
// listening socket accepts; a socket's first packet copies that to
// `owners`, where user space reads it, so a socket that lives 5 ms, made
// or accepted, is still attributed. cgroup/sock_release only marks a
// socket released: a TCP socket goes on sending what its process left
// in it after close(), and those bytes count too. User space reads both
// maps once an interval and deletes the released sockets that have gone
// quiet: nothing wakes it in between.
//
// Payload, not skb->len: with GRO and GSO one skb is many wire packets, and
// the IP length minus the IP and TCP (doff * 4) or UDP (8) headers is still
// the bytes the application moved.

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define AF_INET6 10
#define LOOPBACK_IFINDEX 1

/// Who made a socket: its process, and the file name of the program it
/// runs (what user space names an app by; the command name is cut to 15
/// bytes and can be changed by the process).
struct owner {
    __u32 pid;
    __u32 uid;
    char comm[16];
    char exe[64];
};

// The few kernel fields on the way from a task to its program's file name,
// relocated against the running kernel's BTF when loaded (CO-RE), so no
// kernel headers or vmlinux.h are needed.
struct qstr___nbi {
    const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry___nbi {
    struct qstr___nbi d_name;
} __attribute__((preserve_access_index));

struct path___nbi {
    struct dentry___nbi *dentry;
} __attribute__((preserve_access_index));

struct file___nbi {
    struct path___nbi f_path;
} __attribute__((preserve_access_index));

struct mm_struct___nbi {
    struct file___nbi *exe_file;
} __attribute__((preserve_access_index));

struct task_struct___nbi {
    struct mm_struct___nbi *mm;
} __attribute__((preserve_access_index));


/// What a socket moved, and where.
struct traffic {
    __u64 bytes_in;
    __u64 bytes_out;
    /// The interface of its last packet.
    __u32 ifindex;
    __u16 family;
    __u8 protocol;
    /// Its packets went to (or came from) more than one remote end: an
    /// unconnected UDP socket.
    __u8 remote_varies;
    /// The remote address (IPv4 in the first four bytes), network order.
    __u8 remote[16];
    /// The remote port, host order.
    __u16 remote_port;
    /// Whether `remote` and `remote_port` are set.
    __u16 remote_set;
    /// The local port, host order: a connection a server accepted has its
    /// listening socket's.
    __u16 local_port;
    /// Whether `owners` has this socket's maker (or it has none to give).
    __u8 owner_known;
    /// The socket was released (closed): user space deletes it once quiet.
    __u8 released;
    __u8 pad[8];
};

/// One packet's headers, as far as counting needs them.
struct packet {
    /// Its IP length (0: take the skb's), IP header and TCP/UDP header sizes.
    __u32 total;
    __u32 l3;
    __u32 l4;
    __u16 family;
    __u8 protocol;
    /// The remote end's address (IPv4 in the first four bytes) and port,
    /// and the local port.
    __u8 addr[16];
    __u16 port;
    __u16 local_port;
};

// User space reads these byte for byte (checked there too).
_Static_assert(sizeof(struct traffic) == 56, "struct traffic is 56 bytes");
_Static_assert(sizeof(struct owner) == 88, "struct owner is 88 bytes");

/// What user space sets: whether loopback counts.
struct settings {
    __u32 include_loopback;
};

/// Sockets that moved bytes since user space last retired them. Allocated
/// as used, not up front; an insert into a full map is counted in `lost`.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 131072);
    __type(key, __u64);
    __type(value, struct traffic);
} traffic SEC(".maps");

/// The makers of the sockets in `traffic`.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 131072);
    __type(key, __u64);
    __type(value, struct owner);
} owners SEC(".maps");

/// Who made a socket, kept with the socket; cloned into the connections a
/// listening socket accepts (BPF_F_CLONE).
struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
    __type(key, int);
    __type(value, struct owner);
} made_by SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct settings);
} settings SEC(".maps");

/// Payload bytes of packets whose socket found no room in `traffic`.
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} lost SEC(".maps");

static __always_inline int include_loopback(void)
{
    __u32 zero = 0;
    struct settings *s = bpf_map_lookup_elem(&settings, &zero);
    return s && s->include_loopback;
}

/// Notes the remote end of a packet; a second, different one marks the
/// socket as talking to many (an unconnected UDP socket).
static __always_inline void note_remote(struct traffic *t, const struct packet *p)
{
    if (t->remote_varies)
        return;
    if (!t->remote_set) {
        __builtin_memcpy(t->remote, p->addr, 16);
        t->remote_port = p->port;
        t->remote_set = 1;
        return;
    }
    __u64 a[2], b[2];
    __builtin_memcpy(a, t->remote, 16);
    __builtin_memcpy(b, p->addr, 16);
    if (a[0] != b[0] || a[1] != b[1] || t->remote_port != p->port)
        t->remote_varies = 1;
}

/// Copies a socket's maker from its storage to `owners` (once). A socket
/// without storage was made before the programs were attached: user space
/// looks it up.
static __always_inline void note_owner(struct __sk_buff *skb, struct traffic *t, __u64 cookie)
{
    struct bpf_sock *sk = skb->sk;
    if (!sk)
        return;
    sk = bpf_sk_fullsock(sk);
    if (!sk)
        return;
    struct owner *o = bpf_sk_storage_get(&made_by, sk, 0, 0);
    if (o && bpf_map_update_elem(&owners, &cookie, o, BPF_ANY) != 0)
        return;
    t->owner_known = 1;
}

/// Bytes read at once from the start of a packet: an IPv6 header and the
/// start of a TCP header (its data offset is byte 12), or an IPv4 one
/// without options and more.
#define HEAD 64

/// Reads a TCP or UDP header's size and ports from `l4h` (`avail` bytes of
/// it). False when it is cut short.
static __always_inline int parse_l4(const __u8 *l4h, __u32 avail, struct packet *p, int egress)
{
    if (p->protocol == IPPROTO_TCP) {
        if (avail < 13)
            return 0;
        p->l4 = (l4h[12] >> 4) * 4;
    } else if (p->protocol == IPPROTO_UDP) {
        if (avail < 4)
            return 0;
        p->l4 = 8;
    } else {
        p->l4 = 0;
        return 1;
    }
    __u16 src = ((__u16)l4h[0] << 8) | l4h[1], dst = ((__u16)l4h[2] << 8) | l4h[3];
    p->port = egress ? dst : src;
    p->local_port = egress ? src : dst;
    return 1;
}

/// Reads the IP and TCP/UDP headers of a packet from `h` (`n` bytes of it),
/// the usual case: IPv4 without options, or IPv6 straight to TCP or UDP (or
/// through a jumbogram's hop-by-hop header). False when the headers are not
/// all there: the slow path reads them.
static __always_inline int parse_head(const __u8 *h, __u32 n, struct packet *p, int egress)
{
    if ((h[0] >> 4) == 4) {
        if ((h[0] & 0x0f) != 5)
            return 0;
        p->family = AF_INET;
        p->l3 = 20;
        p->total = ((__u32)h[2] << 8) | h[3];
        p->protocol = h[9];
        __builtin_memcpy(p->addr, egress ? &h[16] : &h[12], 4);
        return parse_l4(h + 20, n - 20, p, egress);
    }
    if ((h[0] >> 4) != 6 || n < 40)
        return 0;
    p->family = AF_INET6;
    __u32 len = ((__u32)h[4] << 8) | h[5];
    // A jumbogram (BIG TCP) says 0: its length is the skb's.
    p->total = len ? len + 40 : 0;
    __builtin_memcpy(p->addr, egress ? &h[24] : &h[8], 16);
    if (h[6] != IPPROTO_HOPOPTS) {
        p->l3 = 40;
        p->protocol = h[6];
        return parse_l4(h + 40, n - 40, p, egress);
    }
    // Only the jumbogram's 8-byte hop-by-hop header here.
    if (n < 48 || h[41] != 0)
        return 0;
    p->l3 = 48;
    p->protocol = h[40];
    return parse_l4(h + 48, n - 48, p, egress);
}

/// The same, header by header: IPv4 options, short or odd packets.
static __always_inline int parse_slow(struct __sk_buff *skb, struct packet *p, int egress)
{
    __u8 first;
    if (bpf_skb_load_bytes(skb, 0, &first, 1) < 0)
        return 0;
    if ((first >> 4) == 4) {
        struct iphdr ip;
        if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
            return 0;
        p->family = AF_INET;
        p->l3 = ip.ihl * 4;
        p->total = bpf_ntohs(ip.tot_len);
        p->protocol = ip.protocol;
        __builtin_memcpy(p->addr, egress ? (void *)&ip.daddr : (void *)&ip.saddr, 4);
    } else if ((first >> 4) == 6) {
        struct ipv6hdr ip6;
        if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
            return 0;
        p->family = AF_INET6;
        p->l3 = sizeof(ip6);
        __u32 len = bpf_ntohs(ip6.payload_len);
        p->total = len ? len + p->l3 : 0;
        p->protocol = ip6.nexthdr;
        __builtin_memcpy(p->addr, egress ? (void *)&ip6.daddr : (void *)&ip6.saddr, 16);
        if (p->protocol == IPPROTO_HOPOPTS) {
            // Next header, and length in 8-byte units past the first 8.
            __u8 hop[2];
            if (bpf_skb_load_bytes(skb, p->l3, hop, sizeof(hop)) < 0)
                return 0;
            p->protocol = hop[0];
            p->l3 += ((__u32)hop[1] + 1) * 8;
        }
    } else {
        return 0;
    }
    __u32 l4 = 0;
    if (p->protocol == IPPROTO_TCP) {
        __u8 doff;
        if (bpf_skb_load_bytes(skb, p->l3 + 12, &doff, 1) < 0)
            return 0;
        l4 = (doff >> 4) * 4;
    } else if (p->protocol == IPPROTO_UDP) {
        l4 = sizeof(struct udphdr);
    }
    if (l4) {
        __u16 ports[2];
        if (bpf_skb_load_bytes(skb, p->l3, ports, sizeof(ports)) == 0) {
            p->port = bpf_ntohs(ports[egress ? 1 : 0]);
            p->local_port = bpf_ntohs(ports[egress ? 0 : 1]);
        }
    }
    p->l4 = l4;
    return 1;
}

static __always_inline int count(struct __sk_buff *skb, int egress)
{
    if (skb->ifindex == LOOPBACK_IFINDEX && !include_loopback())
        return 1;
    __u64 cookie = bpf_get_socket_cookie(skb);
    if (cookie == 0)
        return 1;

    struct packet p = {};
    __u8 head[HEAD] = {};
    __u32 n = skb->len;
    int parsed = 0;
    if (n >= HEAD) {
        parsed = bpf_skb_load_bytes(skb, 0, head, HEAD) == 0 && parse_head(head, HEAD, &p, egress);
    } else if (n >= 28) {
        // Short packets (pure ACKs, small datagrams): as many bytes as
        // there are.
        if (bpf_skb_load_bytes(skb, 0, head, n & (HEAD - 1)) == 0)
            parsed = parse_head(head, n & (HEAD - 1), &p, egress);
    }
    if (!parsed && !parse_slow(skb, &p, egress))
        return 1;
    __u32 total = p.total;
    if (total == 0 || total > skb->len)
        total = skb->len;
    __u64 payload = total > p.l3 + p.l4 ? total - p.l3 - p.l4 : 0;

    struct traffic *t = bpf_map_lookup_elem(&traffic, &cookie);
    if (!t) {
        struct traffic fresh = {};
        fresh.family = p.family;
        fresh.protocol = p.protocol;
        fresh.local_port = p.local_port;
        bpf_map_update_elem(&traffic, &cookie, &fresh, BPF_NOEXIST);
        t = bpf_map_lookup_elem(&traffic, &cookie);
        if (!t) {
            __u32 zero = 0;
            __u64 *l = bpf_map_lookup_elem(&lost, &zero);
            if (l)
                __sync_fetch_and_add(l, payload);
            return 1;
        }
    }
    if (egress)
        __sync_fetch_and_add(&t->bytes_out, payload);
    else
        __sync_fetch_and_add(&t->bytes_in, payload);
    t->ifindex = skb->ifindex;
    note_remote(t, &p);
    if (!t->owner_known)
        note_owner(skb, t, cookie);
    return 1;
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
    return count(skb, 0);
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
    return count(skb, 1);
}

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *sk)
{
    if (sk->family != AF_INET && sk->family != AF_INET6)
        return 1;
    struct owner *o = bpf_sk_storage_get(&made_by, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!o)
        return 1;
    o->pid = bpf_get_current_pid_tgid() >> 32;
    o->uid = (__u32)bpf_get_current_uid_gid();
    bpf_get_current_comm(o->comm, sizeof(o->comm));
    struct task_struct___nbi *task = (void *)bpf_get_current_task();
    const unsigned char *name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
    // A kernel thread has no program file: the name stays empty.
    if (name)
        bpf_probe_read_kernel_str(o->exe, sizeof(o->exe), name);
    return 1;
}

SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *sk)
{
    if (sk->family != AF_INET && sk->family != AF_INET6)
        return 1;
    __u64 cookie = bpf_get_socket_cookie(sk);
    struct traffic *t = bpf_map_lookup_elem(&traffic, &cookie);
    if (!t)
        return 1;
    // Its maker is still at hand: make sure user space gets it.
    if (!t->owner_known) {
        struct owner *o = bpf_sk_storage_get(&made_by, sk, 0, 0);
        if (o && bpf_map_update_elem(&owners, &cookie, o, BPF_ANY) == 0)
            t->owner_known = 1;
    }
    t->released = 1;
    return 1;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
