"""``greenshield demo``: the whole pipeline over a simulated Double 11 day, in one command.

* :mod:`~greenshield.demo.runner` - the run: set up, start, stream, finalise, stop;
* :mod:`~greenshield.demo.orchestrator` - the state file and the broker (processes: :mod:`greenshield.devtools.process`);
* :mod:`~greenshield.demo.streaming` - the paced day into Kafka (producer SDK) or the embedded pipeline;
* :mod:`~greenshield.demo.embedded` - the no-Kafka mode's incremental use of ``greenshield run``'s pipeline;
* :mod:`~greenshield.demo.progress` - the terminal display.
"""
