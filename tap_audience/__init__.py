"""tap-audience: a Singer tap for Angus.ai and EQ Works audience analytics."""
