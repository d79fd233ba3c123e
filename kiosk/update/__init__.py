"""`fse-update`: signed updates of the booth's app and models from a USB stick, into the inactive of
two slots, with a switch back by itself when the new kiosk does not start.

    bundle.py  the signed bundle: build, check the signature, copy and unpack the payload
    slots.py   /opt/fse/a and /opt/fse/b, the /opt/fse/current link, building a slot
    trial.py   the new kiosk on trial: the systemd drop-in that counts its starts; confirm, roll back
    usb.py     a stick labelled FSE-UPDATE: mount, check, copy, install, switch (root's unit)
    status.py  what the kiosk shows: the status file and its toasts
    cli.py     the command line (`fse-update`)

Nothing is imported here: the kiosk imports only status.py.
"""
