//! Running a loaded module: engine configuration, limits, linking WASI, calling `_start`, and
//! sorting how it ended into an exit status or a [`RunError`].

use crate::error::{one_line, RunError};
use crate::{module, wasi, RunConfig};
use wasmi::errors::{ErrorKind, InstantiationError, MemoryError};
use wasmi::{Config, Engine, Linker, Store, StoreLimits, StoreLimitsBuilder, TrapCode};
use wasmi_wasi::WasiCtx;

/// What the store holds for the host side.
struct Host {
    wasi: WasiCtx,
    limits: StoreLimits,
}

/// Runs `cfg` to completion; see [`crate::run`].
pub fn run(cfg: &RunConfig) -> Result<i32, RunError> {
    let mut config = Config::default();
    // Fuel metering costs on every instruction: on only when asked for.
    config.consume_fuel(cfg.fuel.is_some());
    // Names and debug info are of no use to the interpreter; skip parsing them.
    config.ignore_custom_sections(true);
    let engine = Engine::new(&config);
    let module = module::load(&engine, &cfg.module)?;

    let mut limits = StoreLimitsBuilder::new();
    if let Some(max) = cfg.max_memory {
        // A cap that does not fit in usize cannot be reached anyway.
        limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
    }
    let host = Host {
        wasi: wasi::context(cfg)?,
        limits: limits.build(),
    };
    let mut store = Store::new(&engine, host);
    store.limiter(|h| &mut h.limits);
    if let Some(fuel) = cfg.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| load_err(cfg, e.to_string()))?;
    }

    let mut linker = Linker::<Host>::new(&engine);
    wasmi_wasi::add_to_linker(&mut linker, |h| &mut h.wasi)
        .map_err(|e| load_err(cfg, format!("cannot link wasi: {e}")))?;

    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(instance) => instance,
        // A start function runs guest code: its traps and exits are the guest's.
        Err(e) if ran_guest_code(&e) => return ended(cfg, e),
        Err(e) => return Err(load_err(cfg, instantiation_failure(cfg, &e))),
    };
    let start = instance
        .get_typed_func::<(), ()>(&store, "_start")
        .map_err(|e| {
            load_err(
                cfg,
                format!("no `_start` function () -> () (not a WASI command): {e}"),
            )
        })?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => ended(cfg, e),
    }
}

fn load_err(cfg: &RunConfig, reason: String) -> RunError {
    RunError::Load {
        module: cfg.module.clone(),
        reason,
    }
}

/// Why instantiation failed, naming the cap when the limiter refused the initial memory.
fn instantiation_failure(cfg: &RunConfig, e: &wasmi::Error) -> String {
    let denied = matches!(
        e.kind(),
        ErrorKind::Instantiation(InstantiationError::FailedToInstantiateMemory(
            MemoryError::ResourceLimiterDeniedAllocation
        )) | ErrorKind::Memory(MemoryError::ResourceLimiterDeniedAllocation)
    );
    match cfg.max_memory {
        Some(max) if denied => {
            format!("its initial memory is over the memory cap of {max} bytes (--max-memory)")
        }
        _ => one_line(&e.to_string()),
    }
}

/// True if `e` came out of executing guest code (as opposed to linking or instantiating).
fn ran_guest_code(e: &wasmi::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::TrapCode(_)
            | ErrorKind::I32ExitStatus(_)
            | ErrorKind::Host(_)
            | ErrorKind::Message(_)
    ) || e.as_trap_code() == Some(TrapCode::OutOfFuel)
}

/// The guest stopped with `e`: `proc_exit` gives its status, anything else is a trap.
fn ended(cfg: &RunConfig, e: wasmi::Error) -> Result<i32, RunError> {
    if let Some(status) = e.i32_exit_status() {
        return Ok(status);
    }
    if e.as_trap_code() == Some(TrapCode::OutOfFuel) {
        return Err(RunError::OutOfFuel {
            module: cfg.module.clone(),
            fuel: cfg.fuel.unwrap_or(0),
        });
    }
    Err(RunError::Trap {
        module: cfg.module.clone(),
        reason: one_line(&e.to_string()),
    })
}
