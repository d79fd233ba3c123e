"""The kiosk's widgets: each draws one area of the screen from the App's state object.

    canvas        the 28x28 drawing canvas and its R / C / W / B tools
    actions       the hyperspace-jump and capture buttons
    design_view   the designed image (the hero)
    print_selector  the print swatches
    sliders       the 8 parameters with their preview strips
    landmarks     the landmark strip with signature diagrams (signature.py draws them)
    status        the top bar, toasts and the attract prompt
    diagnostics   the operator's F12 overlay
    splash        the start-up splash and the full-screen error
    map_view      map mode (--show2d)

Every widget has `draw(surface, app)`; interactive ones also `press(pos, app)`,
`drag(pos, app)` and `release(pos, app)`, returning True when they took the event.
"""


class ClickWidget:
    """Base for widgets that only take a press: dragging across them or releasing does nothing."""

    def drag(self, pos, app) -> bool:
        return False

    def release(self, pos, app) -> bool:
        return False
