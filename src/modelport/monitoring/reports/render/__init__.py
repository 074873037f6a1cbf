"""Ways to show a monitoring report: self-contained HTML with inline SVG charts."""
