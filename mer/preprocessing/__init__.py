"""Preprocessing run once per dataset: apex spotting, face cropping, motion curves, optical flow."""
