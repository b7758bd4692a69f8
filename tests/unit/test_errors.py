from labkit.errors import LabError


def test_error_reads_as_one_sentence_with_its_fix():
    err = LabError("The lab engine is not running", "", "Start it with `labkit up`")
    assert str(err) == "The lab engine is not running. Start it with `labkit up`."


def test_error_keeps_the_daemons_own_words():
    err = LabError("CRI RunPodSandbox failed", "failed to get sandbox image", "Build the images")
    assert "failed to get sandbox image" in str(err)
    assert "**CRI RunPodSandbox failed**" in err._repr_markdown_()
