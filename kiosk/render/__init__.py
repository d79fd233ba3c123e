"""Inference off the UI thread: the designed image, the slider previews and captures.

Three workers, each a daemon thread; the design and preview workers have a latest-wins mailbox (a
newer request replaces an unstarted one; a running one checks between bands and drops itself when
it went stale):

- `design.py` `DesignRenderer`: for each z, a draft at reduced resolution while the visitor is
  moving (with the print on it, if one is chosen); once input settles, the final design in
  horizontal bands (so a new move interrupts it within one band), or with a print on, the printed
  design at the view's own size. Also the 28x28 design for the canvas and canvas encodes. The
  generator is sampled at capped sizes (`HERO_MAX_SIDE`, `PRINT_DESIGN_SIDE`): the plain design is
  resampled to the view's size and its outline drawn crisp there; docs/performance.md has the
  measurements behind each cap.
- `previews.py` `PreviewRenderer`: all 8 x N slider previews in ONE batched generator call.
- `capture.py` `CaptureWorker`: 1024x1024 render + print at 1024 + the capture log's durable save (a
  queue, not latest-wins: every capture a visitor asked for is saved).

`image.py` turns designs into pictures (bands, resampling, colours, the print); `threads.py` has the
mailbox and the threads' priority; `metrics.py` the latencies the benchmark reports. `schedule.py` is
the loop's side: what to ask the workers for each frame, and their finished work handed to the
widgets. The UI thread only swaps in finished frames; onnxruntime releases the GIL, so these threads
run in parallel with the pygame loop.
"""
