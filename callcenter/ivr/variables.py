"""Names of the dialplan variables the controller and the dialplan share, in one place.

asterisk-conf/extensions.conf.j2 reads and writes the same names.
"""

TICKET_ID = "NGALAM_TICKET_ID"
IVR_RESULT = "NGALAM_IVR"  # "done" when the IVR finished, else why it did not
CATEGORY = "NGALAM_CATEGORY"
# Asterisk's own name: Queue() reads the caller's priority from it.
QUEUE_PRIORITY = "QUEUE_PRIO"
MAX_WAIT = "NGALAM_MAX_WAIT"  # seconds in the queue before overflow ("" = no limit)
OVERFLOW = "NGALAM_OVERFLOW"  # "no" for non-emergency calls: they wait for a call-taker
# Set by Queue(): why the caller left the queue without a call-taker.
QUEUE_STATUS = "QUEUESTATUS"
# The overflow route's answer: how many targets to dial, then each target and its ring time.
TARGET_COUNT = "NGALAM_TARGETS"
TARGET = "NGALAM_TARGET_{}"
RING = "NGALAM_RING_{}"
DISPATCH_ID = "NGALAM_DISPATCH_ID"
# Set by Dial() in the overflow path; the `dialled` route records them on the dispatch.
DIAL_STATUS = "DIALSTATUS"
ANSWERED_TIME = "ANSWEREDTIME"
DIALED_TIME = "DIALEDTIME"
# The ConfBridge a dispatched call is in.
CONFERENCE = "NGALAM_CONFERENCE"
AGENCY = "NGALAM_AGENCY"  # the agency the overflow rings
CURRENT_TARGET = "NGALAM_TARGET"  # the target Dial() rings now
