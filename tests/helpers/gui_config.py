"""Config text shared by the tests that run the speller window with the simulated participant."""

# A fast grid schedule: 60 Hz frames (offscreen and Xvfb report 60 Hz), short calibration.
FAST = """
[speller]
soa = 0.1
flash_duration = 0.05
inter_trial = 0.4
calibration_repetitions = 3
min_repetitions = 2
max_repetitions = 4
stop_threshold = 0.99
[decoder]
name = "xdawncov-ts-lr"
"""
