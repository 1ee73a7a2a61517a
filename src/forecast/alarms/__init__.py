"""Early warning: alarm rules with reasons, levels per unit, and the measured skill of each rule."""
