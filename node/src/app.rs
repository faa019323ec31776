//! The application side of Malachite's channel interface: answers consensus (ConsensusReady,
//! StartedRound, GetValue, ReceivedProposalPart, Decided, Finalized, GetDecidedValues,
//! ProcessSyncedValue, …) with Keel's blocks, engine and store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_malachitebft_app::streaming::StreamContent;
use arc_malachitebft_app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, HeightParams, LinearTimeouts, Round, Validity,
    VoteExtensions,
};
use arc_malachitebft_app::types::streaming::{StreamId, StreamMessage};
use arc_malachitebft_app::types::sync::RawDecidedValue;
use arc_malachitebft_app::types::{LocallyProposedValue, PeerId, ProposedValue};
use arc_malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use arc_malachitebft_engine::host::{Next, SyncedValueOutcome};
use bytes::Bytes;

use crate::NodeError;
use crate::block::{Block, hash_bytes};
use crate::codec::{decode_certificate, encode_certificate};
use crate::context::{Address, BlockHash, Height, KeelContext, ProposalPart, ValidatorSet};
use crate::state::NodeState;
use keel_state::StateStore;

/// Size of the `Data` chunks a block is streamed in.
const CHUNK: usize = 128 * 1024;
/// Most part streams buffered at once (older ones are dropped).
const MAX_STREAMS: usize = 64;
/// Most decided values returned for one sync request.
const MAX_SYNC_BATCH: u64 = 50;

/// Shared node state.
pub type Shared = Arc<Mutex<NodeState>>;

/// Locks the shared state (a poisoned lock means a thread panicked holding it: go on with it,
/// the state is only changed by whole commits).
pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, NodeState> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

struct PartStream {
    parts: BTreeMap<u64, ProposalPart>,
    fin: Option<u64>,
    bytes: usize,
    order: u64,
}

/// A complete proposal for a later height: (proposer, proof-of-lock round, block bytes).
type EarlyProposal = (Address, Round, Vec<u8>);

/// The channel loop's own state.
struct App {
    shared: Shared,
    vset: ValidatorSet,
    timeouts: LinearTimeouts,
    target_time: Option<Duration>,
    streams: HashMap<(PeerId, StreamId), PartStream>,
    stream_counter: u64,
    /// Values we validated, per (height, round), to answer StartedRound after a restart.
    seen: BTreeMap<(u64, u32), Vec<ProposedValue<KeelContext>>>,
    /// Extended certificates of decided heights, until they are committed.
    pending_certs: BTreeMap<u64, Vec<u8>>,
    /// Complete proposals for a height we have not reached yet (parts can arrive before we
    /// commit the previous height): judged at StartedRound and handed to consensus there.
    early: BTreeMap<(u64, u32), Vec<EarlyProposal>>,
    /// Test-only hook (debug builds, `KEEL_NODE_DROP_PARTS=FIRST-LAST`): every proposal part
    /// received for a height in this range is dropped, as if lost, so this node never has
    /// those blocks from consensus and must fetch them through value sync.
    drop_parts: Option<(u64, u64)>,
}

/// The height a part stream is for: its id starts with the height, big-endian ([`App::publish`]).
fn stream_height(id: &StreamId) -> Option<u64> {
    let b = id.to_bytes();
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn round_u32(r: Round) -> u32 {
    r.as_u32().unwrap_or(u32::MAX)
}

/// Timeouts from the genesis.
pub fn timeouts(g: &crate::genesis::Genesis) -> LinearTimeouts {
    let ms = Duration::from_millis;
    LinearTimeouts {
        propose: ms(g.timeout_propose_ms),
        propose_delta: ms(g.timeout_delta_ms),
        prevote: ms(g.timeout_vote_ms),
        prevote_delta: ms(g.timeout_delta_ms),
        precommit: ms(g.timeout_vote_ms),
        precommit_delta: ms(g.timeout_delta_ms),
        rebroadcast: ms(g.timeout_propose_ms + 2 * g.timeout_vote_ms),
        max_timeout: Duration::from_secs(30),
    }
}

/// Stops the process: this validator cannot go on (it diverged, or its store failed).
pub fn halt(shared: &Shared, home: &std::path::Path, why: &str) -> ! {
    eprintln!("keel-node: HALT: {why}");
    lock(shared).halted = Some(why.to_string());
    let _ = std::fs::write(home.join("HALTED"), format!("{why}\n"));
    std::process::exit(3);
}

/// Runs the channel loop until consensus stops.
pub async fn run(
    shared: Shared,
    mut channels: Channels<KeelContext>,
    home: std::path::PathBuf,
) -> Result<(), NodeError> {
    let (vset, timeouts, target_time) = {
        let s = lock(&shared);
        let g = &s.genesis;
        (
            g.validator_set()?,
            timeouts(g),
            (g.block_time_ms > 0).then(|| Duration::from_millis(g.block_time_ms)),
        )
    };
    let mut app = App {
        shared,
        vset,
        timeouts,
        target_time,
        streams: HashMap::new(),
        stream_counter: 0,
        seen: BTreeMap::new(),
        pending_certs: BTreeMap::new(),
        early: BTreeMap::new(),
        drop_parts: if cfg!(debug_assertions) {
            std::env::var("KEEL_NODE_DROP_PARTS").ok().and_then(|v| {
                let (a, b) = v.split_once('-')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
        } else {
            None
        },
    };
    while let Some(msg) = channels.consensus.recv().await {
        if let Err(e) = app.handle(msg, &mut channels).await {
            match e {
                NodeError::Diverged { .. } | NodeError::State(_) | NodeError::Corrupt(_) => {
                    halt(&app.shared, &home, &e.to_string())
                }
                other => eprintln!("keel-node: {other}"),
            }
        }
    }
    Err(NodeError::Consensus("consensus stopped".into()))
}

impl App {
    /// Whether to leave out the log line of a synced block (a long catch-up logs every 100th).
    fn quiet_sync(&self, h: u64) -> bool {
        let forced = self
            .drop_parts
            .is_some_and(|(first, last)| (first..=last).contains(&h));
        !forced && !h.is_multiple_of(100)
    }

    fn params(&self) -> HeightParams<KeelContext> {
        HeightParams::new(self.vset.clone(), self.timeouts, self.target_time)
    }

    async fn publish(
        &self,
        channels: &mut Channels<KeelContext>,
        height: u64,
        round: Round,
        pol_round: Round,
        proposer: Address,
        bytes: &[u8],
    ) {
        let mut id = height.to_be_bytes().to_vec();
        id.extend_from_slice(&round_u32(round).to_be_bytes());
        let stream_id = StreamId::new(Bytes::from(id));
        let mut parts = vec![ProposalPart::Init {
            height: Height(height),
            round,
            pol_round,
            proposer,
        }];
        parts.extend(bytes.chunks(CHUNK).map(|c| ProposalPart::Data(c.to_vec())));
        parts.push(ProposalPart::Fin);
        let mut seq = 0u64;
        for p in parts {
            let msg = StreamMessage::new(stream_id.clone(), seq, StreamContent::Data(p));
            let _ = channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await;
            seq += 1;
        }
        let fin = StreamMessage::new(stream_id, seq, StreamContent::Fin);
        let _ = channels
            .network
            .send(NetworkMsg::PublishProposalPart(fin))
            .await;
    }

    /// Adds a part; returns the whole stream's parts once complete.
    fn add_part(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
        max_bytes: usize,
    ) -> Option<Vec<ProposalPart>> {
        let key = (from, msg.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            // Drop the oldest stream.
            if let Some(old) = self
                .streams
                .iter()
                .min_by_key(|(_, s)| s.order)
                .map(|(k, _)| k.clone())
            {
                self.streams.remove(&old);
            }
        }
        self.stream_counter += 1;
        let order = self.stream_counter;
        let s = self.streams.entry(key.clone()).or_insert(PartStream {
            parts: BTreeMap::new(),
            fin: None,
            bytes: 0,
            order,
        });
        match msg.content {
            StreamContent::Fin => s.fin = Some(msg.sequence),
            StreamContent::Data(p) => {
                if let ProposalPart::Data(d) = &p {
                    s.bytes = s.bytes.saturating_add(d.len());
                }
                s.parts.insert(msg.sequence, p);
            }
        }
        if s.bytes > max_bytes.saturating_mul(2) {
            self.streams.remove(&key);
            return None;
        }
        let fin = s.fin?;
        if s.parts.len() as u64 != fin || s.parts.keys().next_back().copied() != fin.checked_sub(1)
        {
            return None;
        }
        self.streams
            .remove(&key)
            .map(|s| s.parts.into_values().collect())
    }

    async fn handle(
        &mut self,
        msg: AppMsg<KeelContext>,
        channels: &mut Channels<KeelContext>,
    ) -> Result<(), NodeError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let next = lock(&self.shared).height() + 1;
                eprintln!("keel-node: consensus ready, starting at height {next}");
                let _ = reply.send((Height(next), self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                let key = (height.0, round_u32(round));
                self.early.retain(|(h, _), _| *h >= height.0);
                for (proposer, pol_round, bytes) in self.early.remove(&key).unwrap_or_default() {
                    let v = self.judge(height, round, pol_round, proposer, bytes)?;
                    self.seen.entry(key).or_default().push(v);
                }
                let seen = self.seen.get(&key).cloned().unwrap_or_default();
                let _ = reply_value.send(seen);
            }
            AppMsg::GetValue {
                height,
                round,
                reply,
                ..
            } => {
                let (bytes, hash, me) = {
                    let s = lock(&self.shared);
                    let g = &s.genesis;
                    let store = &s.store;
                    let picked = s.mempool.select(
                        g.block_gas_limit,
                        g.block_max_bytes.saturating_sub(256),
                        |a| keel_engine::nonce(store, a).map_err(|e| e.to_string()),
                    );
                    let mut txs = Vec::new();
                    for v in picked.into_iter().take(g.block_max_txs) {
                        txs.push(v.bytes);
                    }
                    let block = Block {
                        height: height.0,
                        timestamp: now_ms().max(s.last_timestamp()?),
                        prev_root: s.store.root(),
                        proposer: s.me.0,
                        txs,
                    };
                    let bytes = block.to_bytes();
                    (bytes.clone(), hash_bytes(&bytes), s.me)
                };
                lock(&self.shared)
                    .undecided
                    .insert(hash, (height.0, bytes.clone()));
                let _ = reply.send(LocallyProposedValue::new(height, round, hash));
                self.publish(channels, height.0, round, Round::Nil, me, &bytes)
                    .await;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let (me, bytes) = {
                    let s = lock(&self.shared);
                    (s.me, s.undecided.get(&value_id).map(|(_, b)| b.clone()))
                };
                if address == me
                    && let Some(bytes) = bytes
                {
                    self.publish(channels, height.0, round, valid_round, me, &bytes)
                        .await;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                if let (Some((first, last)), Some(h)) =
                    (self.drop_parts, stream_height(&part.stream_id))
                    && (first..=last).contains(&h)
                {
                    let _ = reply.send(None);
                    return Ok(());
                }
                let max = lock(&self.shared).genesis.block_max_bytes;
                let Some(parts) = self.add_part(published_by.unwrap_or(from), part, max) else {
                    let _ = reply.send(None);
                    return Ok(());
                };
                let value = self.assemble(parts)?;
                if let Some(v) = &value {
                    self.seen
                        .entry((v.height.0, round_u32(v.round)))
                        .or_default()
                        .push(v.clone());
                }
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate,
                extensions,
                reply,
            } => {
                let h = certificate.height.0;
                let r = self.commit(certificate, extensions);
                let _ = reply.send(());
                r?;
                self.seen.retain(|(sh, _), _| *sh > h);
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let committed = lock(&self.shared).height();
                let next = if committed >= certificate.height.0 {
                    Next::Start(Height(committed + 1), self.params())
                } else {
                    Next::Restart(certificate.height, self.params())
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let s = lock(&self.shared);
                let (lo, hi) = (range.start().0.max(1), range.end().0.min(s.height()));
                let mut out = Vec::new();
                let mut h = lo;
                while h <= hi && h < lo.saturating_add(MAX_SYNC_BATCH) {
                    match (s.block_bytes(h)?, s.certificate(h)?) {
                        (Some(b), Some(c)) => {
                            let cert = decode_certificate(&c).map_err(|e| {
                                NodeError::Corrupt(format!("stored certificate {h}: {e}"))
                            })?;
                            out.push(RawDecidedValue::new(Bytes::from(b), cert));
                        }
                        _ => break,
                    }
                    h += 1;
                }
                let _ = reply.send(out);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = match Block::from_bytes(&value_bytes) {
                    Ok(b) if b.height == height.0 => {
                        let hash = hash_bytes(&value_bytes);
                        if !self.quiet_sync(height.0) {
                            eprintln!(
                                "keel-node: height {} ({} txs): block {hash} received through \
                                 value sync",
                                height.0,
                                b.txs.len()
                            );
                        }
                        lock(&self.shared)
                            .undecided
                            .insert(hash, (height.0, value_bytes.to_vec()));
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: hash,
                            validity: Validity::Valid,
                        })
                    }
                    _ => SyncedValueOutcome::PeerFault,
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// A complete part stream: the proposed value with its validity, or `None` if the stream
    /// is malformed or for a height we cannot judge.
    fn assemble(
        &mut self,
        parts: Vec<ProposalPart>,
    ) -> Result<Option<ProposedValue<KeelContext>>, NodeError> {
        let mut it = parts.into_iter();
        let Some(ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        }) = it.next()
        else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        for p in it {
            match p {
                ProposalPart::Data(d) => bytes.extend_from_slice(&d),
                ProposalPart::Fin => break,
                ProposalPart::Init { .. } => return Ok(None),
            }
        }
        let next = lock(&self.shared).height() + 1;
        if height.0 > next && height.0 <= next + 2 {
            // Early: judged when we start that round (StartedRound).
            let list = self.early.entry((height.0, round_u32(round))).or_default();
            if list.len() < 4 {
                list.push((proposer, pol_round, bytes));
            }
            return Ok(None);
        }
        if height.0 != next {
            // Old, or far ahead: sync brings what we need.
            return Ok(None);
        }
        self.judge(height, round, pol_round, proposer, bytes)
            .map(Some)
    }

    /// Checks a complete proposal for the next height and records its bytes.
    fn judge(
        &mut self,
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
        bytes: Vec<u8>,
    ) -> Result<ProposedValue<KeelContext>, NodeError> {
        let hash = hash_bytes(&bytes);
        let mut s = lock(&self.shared);
        let next = s.height() + 1;
        let validity = match Block::from_bytes(&bytes) {
            Err(_) => Validity::Invalid,
            Ok(block) => {
                let checked = if block.proposer != proposer.0 {
                    Err(crate::block::BlockError::Proposer)
                } else {
                    block.check(
                        &s.genesis,
                        next,
                        s.store.root(),
                        s.last_timestamp()?,
                        bytes.len(),
                    )
                };
                match checked {
                    Ok(_) => Validity::Valid,
                    Err(e) => {
                        eprintln!("keel-node: invalid proposal at height {next}: {e}");
                        Validity::Invalid
                    }
                }
            }
        };
        s.undecided.insert(hash, (height.0, bytes));
        Ok(ProposedValue {
            height,
            round,
            valid_round: pol_round,
            proposer,
            value: hash,
            validity,
        })
    }

    fn commit(
        &mut self,
        certificate: CommitCertificate<KeelContext>,
        extensions: VoteExtensions<KeelContext>,
    ) -> Result<(), NodeError> {
        let h = certificate.height.0;
        let value: BlockHash = certificate.value_id;
        let ext = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
            certificate,
            extensions,
        );
        let cert = encode_certificate(&ext);
        self.pending_certs.insert(h, cert);
        let mut s = lock(&self.shared);
        if s.height() >= h {
            self.pending_certs.remove(&h);
            return Ok(()); // already committed (a replay after restart)
        }
        let Some((_, bytes)) = s.undecided.get(&value).cloned() else {
            return Err(NodeError::Consensus(format!(
                "decided block {value} at height {h} is unknown here"
            )));
        };
        let cert = self.pending_certs.remove(&h).unwrap_or_default();
        let c = s.commit_decided(&bytes, &cert)?;
        if c.txs > 0 || c.height % 100 == 0 {
            eprintln!(
                "keel-node: committed height {} ({} txs), root {}",
                c.height,
                c.txs,
                hex::encode(c.root)
            );
        }
        Ok(())
    }
}
