"""Small widgets and helpers every panel shares: the notice strip, timers, background tasks."""
