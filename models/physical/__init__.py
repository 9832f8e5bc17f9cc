"""Physical models: node scaling, on-chip SRAM cost, per-event energy and its event counts."""
