"""Call-takers: their desks at the queue, the calls they handle, the protocol cards they follow."""
