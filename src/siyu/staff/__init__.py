"""Staff (advisors) and which of them owns each customer; the SCRM extends this later."""
