"""GPU utilization and memory gauges, exported only where NVML finds a GPU.

Uses ``pynvml`` (package ``nvidia-ml-py``, in the ``maya1`` extra) when it is installed; on a
machine without it, or without a GPU, nothing is registered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class GpuCollector(Collector):
    def __init__(self, nvml: Any, device_count: int) -> None:
        self._nvml = nvml
        self._device_count = device_count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        utilization = GaugeMetricFamily(
            "voxserve_gpu_utilization_ratio", "GPU busy fraction (0-1).", labels=["gpu"]
        )
        used = GaugeMetricFamily("voxserve_gpu_memory_used_bytes", "GPU memory in use.",
                                 labels=["gpu"])
        total = GaugeMetricFamily("voxserve_gpu_memory_total_bytes", "GPU memory.",
                                  labels=["gpu"])
        for index in range(self._device_count):
            handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
            rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            utilization.add_metric([str(index)], rates.gpu / 100.0)
            used.add_metric([str(index)], memory.used)
            total.add_metric([str(index)], memory.total)
        yield utilization
        yield used
        yield total


_registered = False


def register_gpu_metrics() -> bool:
    """Register the GPU collector once if a GPU is visible; True when registered."""
    global _registered
    if _registered:
        return True
    try:
        import pynvml

        pynvml.nvmlInit()
        count = int(pynvml.nvmlDeviceGetCount())
    except Exception:  # not installed, no driver, no GPU: no GPU metrics
        return False
    if count == 0:
        return False
    REGISTRY.register(GpuCollector(pynvml, count))
    _registered = True
    logger.info("exporting metrics for %d GPU(s)", count)
    return True
