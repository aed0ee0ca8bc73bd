"""How a pair becomes judge calls: prompts, order swapping, providers, verdict parsing."""
