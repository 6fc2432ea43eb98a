"""Lessons: six published effects, each as question → prediction → run → what to look at → why, with a
verdict computed from the run's own metrics. ``?lesson=N`` opens one lesson, locked to its settings."""
from ui import lessons_view as lv
from ui import share

share.no_settings_page("lessons")
lesson = lv.current()
if lesson is None:
    lv.index()
else:
    lv.follow(lesson)
    changes, quick = lv.sidebar(lesson)
    lv.header(lesson)
    lv.experiment(lesson, changes, quick)
    lv.results(lesson)
    lv.explanation(lesson)
    lv.footer(lesson, changes)
