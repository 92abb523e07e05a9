"""Reference layers: communes, départements, régions, EPCI, town halls, and the health layers
(medical zoning, health sites, CPTS territories, zones rouges), each versioned by vintage."""
