"""The course's exercises: one module per chapter, each holding a plain ``EXERCISES`` list in notebook order.

Nothing registers itself: each chapter names its module in :data:`cnn_course.chapters.CHAPTERS`, and
:func:`cnn_course.exercises.collect` reads them from there.
"""
