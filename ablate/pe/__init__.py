"""Position encodings: the one interface through which each acts on attention (interface.py), the terms every
attention backend executes (terms.py), the registry of encodings by name (registry.py), and one module per
encoding besides iRPE (ablate.rpe): RoPE, bias tables, ALiBi, PEG, absolute encodings."""
