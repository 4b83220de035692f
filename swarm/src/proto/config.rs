//! Tunables of one torrent's protocol state machine.

use std::time::Duration;

/// Configuration of a [`crate::proto::Torrent`]. `Default` gives values fit
/// for a LAN or a home connection.
#[derive(Clone, Debug)]
pub struct TorrentConfig {
    /// Most connections (incoming + outgoing). A new connection past it
    /// evicts an idle peer that dialled us, or is refused with
    /// [`crate::proto::DisconnectReason::TooManyPeers`] (`proto::slots`).
    pub max_peers: usize,
    /// Most connections from one IP, and most of its addresses dialled at
    /// a time or per minute (`proto::dials`).
    pub max_peers_per_ip: usize,
    /// A peer that dialled us and is of no use either way is evicted for a
    /// newcomer after being idle this long (others after six times that).
    pub idle_evict_after: Duration,
    /// Most dials started per second.
    pub max_dials_per_sec: u32,
    /// Regular upload slots (tit-for-tat or seeding round robin). One more
    /// slot is used by the optimistic unchoke. 0 disables uploading
    /// entirely (a free rider; used by tests).
    pub upload_slots: usize,
    /// Upload limit in payload bytes per second, `None` for unlimited.
    pub upload_rate_limit: Option<u64>,
    /// Incoming requests we queue per peer (advertised as `reqq`); more is
    /// [`crate::proto::PeerMisbehaved::TooManyRequests`].
    pub max_incoming_requests: u32,
    /// Bounds of our outstanding request queue per peer. The target depth
    /// is about two seconds of that peer's download rate, in blocks.
    pub min_request_queue: u32,
    /// Upper bound of the request queue per peer, in blocks.
    pub max_request_queue: u32,
    /// A peer that sends nothing for this long while we wait for blocks is
    /// snubbed: its requests go back to the picker.
    pub request_timeout: Duration,
    /// Keep-alive period.
    pub keepalive_interval: Duration,
    /// A peer silent this long is dropped.
    pub peer_timeout: Duration,
    /// A connection must complete the handshake within this.
    pub handshake_timeout: Duration,
    /// Tit-for-tat / round-robin period.
    pub choke_interval: Duration,
    /// Optimistic unchoke rotation period.
    pub optimistic_interval: Duration,
    /// Largest metadata (info dictionary) we fetch for a magnet link.
    pub max_metadata_size: u32,
    /// Blocks a peer may send that we never requested (beyond late blocks
    /// of cancelled requests) before it is banned.
    pub max_unrequested_blocks: u32,
    /// BEP 52 hash requests plus BEP 9 metadata requests answered per peer
    /// and second; up to as many more wait for the next second, the rest
    /// are rejected (`proto::pacing`).
    pub max_metadata_requests_per_sec: u32,
    /// Bytes of Merkle trees kept to answer hash requests (built once per
    /// file; the most recent one is kept even if larger).
    pub hash_tree_cache_bytes: usize,
    /// Bytes queued for one peer (written by us, not yet by the transport)
    /// above which we stop serving it until it reads
    /// (`proto::backpressure`).
    pub max_send_buffer: usize,
    /// The same for all peers of the torrent together.
    pub max_send_buffer_total: usize,
    /// Bytes of received blocks handed to the disk and not yet written
    /// above which no new block is requested (`proto::disk`): memory stays
    /// bounded when the disk is slower than the network.
    pub max_disk_queue: usize,
    /// Hash checks out at a time (`proto::disk`); pieces wait in the order
    /// they completed.
    pub max_verify_jobs: usize,
    /// A peer with data queued that reads none of it for this long is
    /// choked (its slot goes to another peer)...
    pub stall_choke_after: Duration,
    /// ...and dropped after this long.
    pub stall_drop_after: Duration,
    /// How long a misbehaving peer's address and port stay banned.
    pub ban_duration: Duration,
    /// Most bans kept (the one closest to its end goes first).
    pub max_banned: usize,
    /// Client name advertised in the BEP 10 handshake.
    pub client_version: String,
    /// Our TCP listen port, advertised as `p` in the BEP 10 handshake.
    pub listen_port: Option<u16>,
    /// Our QUIC (UDP) port, advertised as `swarm_quic` in the BEP 10
    /// handshake so that swarm peers can move to QUIC; `None`: no QUIC.
    pub quic_port: Option<u16>,
    /// Seed for tie-breaking in the piece order (deterministic runs).
    pub seed: u64,
}

impl Default for TorrentConfig {
    fn default() -> Self {
        TorrentConfig {
            max_peers: 50,
            max_peers_per_ip: 8,
            idle_evict_after: Duration::from_secs(10),
            max_dials_per_sec: 20,
            upload_slots: 4,
            upload_rate_limit: None,
            max_incoming_requests: 500,
            min_request_queue: 4,
            max_request_queue: 250,
            request_timeout: Duration::from_secs(20),
            keepalive_interval: Duration::from_secs(90),
            peer_timeout: Duration::from_secs(180),
            handshake_timeout: Duration::from_secs(20),
            choke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            max_metadata_size: 16 * 1024 * 1024,
            max_unrequested_blocks: 32,
            max_metadata_requests_per_sec: 250,
            hash_tree_cache_bytes: 32 * 1024 * 1024,
            max_send_buffer: 1024 * 1024,
            max_send_buffer_total: 16 * 1024 * 1024,
            max_disk_queue: 4 * 1024 * 1024,
            max_verify_jobs: 2,
            stall_choke_after: Duration::from_secs(10),
            stall_drop_after: Duration::from_secs(30),
            ban_duration: Duration::from_secs(3600),
            max_banned: 1024,
            client_version: "swarm/0.1".into(),
            listen_port: None,
            quic_port: None,
            seed: 0,
        }
    }
}
