"""Reading exactly the validated bytes, and an older upload never replacing a newer record."""

from contracts import records
from contracts.segments import SEQUENCER_WIDTH, normalise_sequencer
from contracts.s3keys import read_condition


def test_sequencers_compare_as_s3_says_after_normalising():
    # S3: right-pad the shorter with zeros, then compare; the greater one is the later event.
    earlier, later = "0055AED6DCD90281E5", "0055AED6DCD90281E6"
    assert normalise_sequencer(earlier) < normalise_sequencer(later)
    assert normalise_sequencer("0055AED6DCD90281E5") < normalise_sequencer("0055AED6DCD90281E50001")
    assert normalise_sequencer("abc") == "ABC".ljust(SEQUENCER_WIDTH, "0")
    # No sequencer (an execution started by hand): before every real upload.
    assert normalise_sequencer(None) < normalise_sequencer("00") or normalise_sequencer(None) == normalise_sequencer("00")
    assert normalise_sequencer("not hex!") == "0" * SEQUENCER_WIDTH


def test_the_record_condition_needs_other_bytes_and_a_later_upload():
    condition = records.CONDITION_EXPRESSION
    assert condition.startswith("attribute_not_exists(#pk) OR ")
    assert "#version <> :version AND" in condition and "#sequencer < :sequencer" in condition
    parameters = records.put_item_parameters("t")
    assert parameters["Item"]["sequencer"] == {"S.$": "$.segment.sequencer"}
    assert parameters["ExpressionAttributeValues"][":sequencer"] == {"S.$": "$.segment.sequencer"}


def test_read_condition_names_the_version_or_the_etag():
    assert read_condition("3HL4kqtJlcpXroDTDmJ", "abc") == {"VersionId": "3HL4kqtJlcpXroDTDmJ"}
    assert read_condition(None, "abc") == {"IfMatch": '"abc"'}
    assert read_condition("null", "abc") == {"IfMatch": '"abc"'}
