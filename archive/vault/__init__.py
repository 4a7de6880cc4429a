"""The vault: sealed stories, their envelope encryption and the master key ring.

Only this package touches keys and ciphertext.
"""
