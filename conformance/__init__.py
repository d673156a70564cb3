"""Conformance suites: pytest modules that judge a server, and the framework they share.

A **suite** is a package of pytest modules registered by name
(:class:`conformance.registry.Suite`, imported from :mod:`conformance.suites`). A **case** is
a test function declared with :func:`conformance.case.case`: a stable ID (``HLS-PL-004``), a
title, a level (``required`` / ``recommended`` / ``info``) and the spec references it
enforces (:mod:`conformance.spec`: RFC 8216, rfc8216bis, Apple's HLS Authoring Specification,
Adobe RTMP 1.0, Enhanced RTMP). Inside a case, :func:`~conformance.case.fail` says what was
expected, what was seen and where (:class:`reports.model.Detail`), and
:func:`~conformance.case.not_applicable` says the target does not use what the case checks.

Observe once, judge many: a suite's session fixture observes the target once (the hls-output
suite records every playlist reload and segment with :class:`conformance.hls.recorder.
HlsRecorder`), and each case is a cheap function over that recording. A suite that needs the
target fed publishes with :class:`conformance.feed.RtmpFeed` (camsim's encoder).

The plugin (:mod:`conformance.plugin`, ``-p conformance.plugin``) adds the ``--conform-*``
options and the fixtures ``conform_options``, ``conform_session`` and ``case_record``, reads the
catalogue at collection, turns outcomes into verdicts and sets the exit status to the gate.
:mod:`conformance.runner` runs suites in-process for ``camsim conform``
(:mod:`conformance.cli`); results become a :class:`reports.model.Report`, written as JSON,
JUnit XML and one self-contained HTML page by :mod:`reports`.
"""
