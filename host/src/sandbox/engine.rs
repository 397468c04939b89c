//! The process-wide wasmtime `Engine` and the epoch ticker that gives every
//! call its deadline. One engine serves every plugin and every call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::anyhow;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Most plugin instances alive at once; calls beyond it wait for a slot.
pub const MAX_LIVE_INSTANCES: u32 = 128;

/// Most linear memories one component instance may define.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 8;

/// Builds the engine: component model, epoch interruption and a pooling
/// allocator (per-plugin memory caps are enforced per store, not here).
pub fn build() -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_LIVE_INSTANCES)
        // Python and JavaScript components hold several core instances,
        // memories and tables each.
        .total_core_instances(MAX_LIVE_INSTANCES * 8)
        .total_memories(MAX_LIVE_INSTANCES * 2)
        // Every toolchain we know gives a component one memory; a hostile
        // one could otherwise take the whole pool with tiny memories.
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .total_tables(MAX_LIVE_INSTANCES * 4)
        .total_stacks(MAX_LIVE_INSTANCES)
        // Reset a freed slot's dirty pages in place (found with PAGEMAP_SCAN
        // where the kernel has it) instead of unmapping them, so the next
        // instance does not page-fault them back in.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| anyhow!("cannot create the wasmtime engine: {e:#}"))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a background thread
/// until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("orch-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self { stop, thread: Some(thread) }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The number of ticks that covers `limit`, plus one for the partial tick in
/// progress when the call starts.
pub fn deadline_ticks(limit: Duration) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1);
    u64::try_from(limit.as_millis().div_ceil(tick)).unwrap_or(u64::MAX - 1) + 1
}
