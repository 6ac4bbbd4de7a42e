"""What supervisors do: watch the board, listen in, call back abandoned callers, restrict prank callers."""
