"""Names of the dialplan variables the IVR and the dialplan share, in one place."""

TICKET_ID = "NGALAM_TICKET_ID"
IVR_RESULT = "NGALAM_IVR"  # "done" when the IVR finished, else why it did not
