"""Model packs: sans-IO cores of real systems and the wiring that builds worlds of them."""
