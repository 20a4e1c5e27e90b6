//! GPU memory per process through NVML. `libnvidia-ml.so.1` is loaded at run
//! time, so the binary runs (and builds) on machines without NVIDIA software;
//! there the probe returns the reason and sampling goes on without GPU data.

use std::collections::HashMap;

use nvml_wrapper::Nvml;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;

/// Why GPU memory cannot be sampled, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GpuUnavailable(pub String);

/// An initialised NVML library.
pub struct Gpu {
    nvml: Nvml,
    devices: u32,
}

impl Gpu {
    /// Loads NVML and counts the GPUs.
    pub fn probe() -> Result<Gpu, GpuUnavailable> {
        let nvml = Nvml::init().map_err(explain)?;
        let devices = nvml.device_count().map_err(explain)?;
        if devices == 0 {
            return Err(GpuUnavailable("NVML found no NVIDIA GPU".into()));
        }
        Ok(Gpu { nvml, devices })
    }

    /// Each GPU's name and total memory in bytes.
    pub fn devices(&self) -> Vec<(String, u64)> {
        (0..self.devices)
            .filter_map(|i| {
                let d = self.nvml.device_by_index(i).ok()?;
                Some((d.name().ok()?, d.memory_info().ok()?.total))
            })
            .collect()
    }

    /// GPU memory in bytes per host pid, summed over every GPU (and every
    /// MIG instance) the process has memory on.
    pub fn memory_by_pid(&self, out: &mut HashMap<u32, u64>) -> Result<(), GpuUnavailable> {
        out.clear();
        for index in 0..self.devices {
            let device = self.nvml.device_by_index(index).map_err(explain)?;
            let mig_on = device.mig_mode().map(|m| m.current == 1).unwrap_or(false);
            if mig_on {
                // With MIG on, the parent device reports aggregates only to
                // privileged callers; per-instance handles give the processes.
                for mig in 0.. {
                    let Ok(instance) = device.mig_device_by_index(mig) else {
                        break;
                    };
                    add_processes(&instance, out);
                }
            } else {
                add_processes(&device, out);
            }
        }
        Ok(())
    }
}

fn add_processes(device: &nvml_wrapper::Device, out: &mut HashMap<u32, u64>) {
    // A process using CUDA and graphics at once is listed by both calls with
    // the same total, so take the larger figure rather than the sum.
    let mut per_device: HashMap<u32, u64> = HashMap::new();
    let lists = [device.running_compute_processes(), device.running_graphics_processes()];
    for info in lists.into_iter().flatten().flatten() {
        if let UsedGpuMemory::Used(bytes) = info.used_gpu_memory {
            let e = per_device.entry(info.pid).or_default();
            *e = (*e).max(bytes);
        }
    }
    for (pid, bytes) in per_device {
        *out.entry(pid).or_default() += bytes;
    }
}

fn explain(e: NvmlError) -> GpuUnavailable {
    GpuUnavailable(match e {
        NvmlError::LibloadingError(inner) => format!("no NVIDIA driver: {inner}"),
        NvmlError::DriverNotLoaded => "the NVIDIA kernel driver is not loaded".into(),
        NvmlError::NoPermission => "no permission to query NVML (run as a user who can open /dev/nvidia*)".into(),
        other => format!("NVML error: {other}"),
    })
}
