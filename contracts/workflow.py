"""The workflow's state names and the paths of its state document.

The definition (``state_machine.definition``) builds its states from these;
the record (:mod:`contracts.records`), the alert event (:mod:`contracts.events`),
the dead-letter message (:mod:`contracts.dead_letters`) and the local stack's
readers (``devstack.observe``) read by them. A state document, as it grows::

    $.segment      the validated segment (contracts.segments.Segment)
    $.request      the endpoint's request (contracts.endpoint.EndpointRequest)
    $.busy         the count of the endpoint's busy answers
    $.inference    {"result": <the endpoint's response (contracts.endpoint.EndpointResponse)>}
    $.duplicate    the failed conditional write, when the segment was already recorded
    $.episodes     what UpdateEpisodes folded ({"late", "changed", "events"}), or
    $.episodes_error  its error (the scheduled sweep folds what it left)
    $.failure      the caught error ({"Error", "Cause"}) on the way to the dead-letter queue
    $.dead_letter  the dead-letter message being sent
"""

IS_PLAYLIST = "IsPlaylist"
PLAYLIST = "PlaylistIgnored"
VALIDATE = "ValidateSegment"
BUILD_REQUEST = "BuildRequest"
DETECT = "DetectActivity"
INIT_BUSY = "StartBusyCount"
IS_BUSY = "IsEndpointBusy"
COUNT_BUSY = "CountBusyRetry"
WAIT_BUSY = "WaitWhileBusy"
RECORD = "RecordDetection"
EPISODES = "UpdateEpisodes"
AFTER_EPISODES = "WasAlreadyRecorded"
WATCHED = "IsWatchedActivity"
ALERT = "PublishAlert"
RECORDED = "Recorded"
DUPLICATE = "AlreadyRecorded"
SEND_DEAD_LETTER = "SendToDeadLetterQueue"
FAILED = "SegmentFailed"
#: Every named state (a new state is added here; tests/unit/test_contracts.py checks the definition has exactly these).
STATES = (
    IS_PLAYLIST, PLAYLIST, VALIDATE, BUILD_REQUEST, DETECT, INIT_BUSY, IS_BUSY, COUNT_BUSY, WAIT_BUSY,
    RECORD, EPISODES, AFTER_EPISODES, WATCHED, ALERT, RECORDED, DUPLICATE, SEND_DEAD_LETTER, FAILED,
)
#: States whose failure is caught and dead-lettered, in workflow order.
FAILING_STATES = (VALIDATE, DETECT, RECORD)


def failed_state(state: str) -> str:
    """The Pass state that assembles the dead-letter message for a failure in ``state``."""
    return state + "Failed"


SEGMENT_PATH = "$.segment"
REQUEST_PATH = "$.request"
#: How many busy answers the endpoint gave so far (``{"attempt": n}``).
BUSY_PATH = "$.busy"
INFERENCE_PATH = "$.inference"
#: ``DetectActivity``'s ResultSelector puts the endpoint's parsed response under this key of ``$.inference``.
RESULT_KEY = "result"
RESULT_PATH = INFERENCE_PATH + "." + RESULT_KEY
FAILURE_PATH = "$.failure"
DEAD_LETTER_PATH = "$.dead_letter"
#: Set (the failed conditional write) when the segment was already recorded.
DUPLICATE_PATH = "$.duplicate"
#: ``UpdateEpisodes``' summary (:data:`EPISODES_RESULT`), or its error when it failed (the sweep folds later).
EPISODES_PATH = "$.episodes"
EPISODES_ERROR_PATH = "$.episodes_error"
ALERT_ERROR_PATH = "$.alert_error"

#: The input of ``UpdateEpisodes`` (the episodes Lambda's workflow call): these Segment fields, by name.
EPISODES_REQUEST = ("stream_id", "sequence")
#: The fields of the episodes Lambda's answer that the workflow keeps.
EPISODES_RESULT = ("late", "changed", "events")


def segment(field: str) -> str:
    """Path of a field of the validated segment (checked against ``Segment``)."""
    from contracts.segments import Segment

    if field not in Segment.__dataclass_fields__:
        raise KeyError("Segment has no field {!r}".format(field))
    return "{}.{}".format(SEGMENT_PATH, field)


def result(field: str) -> str:
    """Path of a field of the endpoint's response (checked against ``EndpointResponse``)."""
    from contracts.endpoint import EndpointResponse

    top = field.split(".")[0]
    if top not in EndpointResponse.__dataclass_fields__:
        raise KeyError("EndpointResponse has no field {!r}".format(top))
    return "{}.{}".format(RESULT_PATH, field)
