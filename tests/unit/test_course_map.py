"""The course map (lesson 00) and the lesson list agree with the notebooks that exist."""
import re

from labkit import course
from labkit.widgets.ecosystem import ecosystem


def test_every_link_on_the_map_opens_a_notebook_that_exists():
    links = re.findall(r'URL="([^"]+)"', ecosystem().source)
    assert links, "the map links no lesson at all"
    assert all((course.NOTEBOOKS / link).exists() for link in links), links
    unwritten = [ls for ls in course.LESSONS if not ls.path.exists()]
    assert all(ls.filename not in links for ls in unwritten)


def test_the_map_shows_dockerd_pulling_from_the_registry():
    assert re.search(r"\bdockerd -> registry\b", ecosystem().source)


def test_lessons_are_numbered_in_order_without_gaps():
    assert [ls.number for ls in course.LESSONS] == [f"{i:02d}" for i in range(len(course.LESSONS))]
