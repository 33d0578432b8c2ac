"""The paper's comparison models behind colorbench's interface: RTUG, AlacGAN(-lite), Pix2Pix, CIC and
a non-learned flat-fill floor. Each module's docstring says what it keeps from its paper and what it changes."""
