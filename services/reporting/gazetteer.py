"""Word lists the anonymiser recognises unregistered people by (anonymise.py, person_names.py). Pure data.

Why a gazetteer and not a named-entity model: spaCy's Dutch pipeline (`nl_core_news_sm`) is published only as a
GitHub release, not on PyPI, and cannot be installed from the registries this project builds from; a rule on
titles plus these lists is what reporting can ship and test.

Sources (written out by hand for this project, all in lower case and without accents, as `anonymise.fold` makes
words; not copied from the sources, which are larger):
- FIRST_NAMES: frequent first names in the Netherlands across generations, after the top lists of the
  Nederlandse Voornamenbank of the Meertens Instituut (https://www.meertens.knaw.nl/nvb/) and the names most
  given to children by parents of Turkish, Moroccan, Surinamese and Antillean descent in the same lists.
- SURNAMES: the most frequent Dutch surnames without their particles, after the Nederlandse Familienamenbank
  of the Meertens Instituut (https://www.cbgfamilienamen.nl/nfb/) top-list; plus frequent Turkish and Moroccan
  surnames in the Netherlands.
- TITLES: forms of address, titles and functions that precede a name in Dutch notes about local government
  (Dutch usage; "wethouder Karin Hoekstra", "mw. De Vries", "dhr. Jansen").
- NOT_NAMES: words written with a capital after a title that are no name: the portfolios of aldermen
  ("wethouder Zorg"), the parts of government ("burgemeester en wethouders").

A name in the lists that is also an ordinary Dutch word (anonymise.COMMON_WORDS: "roos", "mark", "bakker") is
taken for a name only next to another part of a name or after a title, never on its own.
"""

from __future__ import annotations

FIRST_NAMES = frozenset(
    """
    aad adam adriaan adrie ahmed aicha aisha ali alexander alex amber amina amira anna anne anneke annemarie
    annemieke annet annette anouk ans anton antoon arie arjan arjen arnold aron astrid ayoub ayse aysel
    barbara bart bas bastiaan ben bernard bert bianca bilal bjorn bob boris bram brenda britt bram
    carla carlos caroline cas casper catharina charlotte chantal chris christiaan christian cindy claudia coen cor
    corine cornelis daan daniel danny dave david debora demi dennis diana dick diederik dirk djamila dorien dylan
    edwin eefje elif elisabeth ellen els elske emine emma emre erik esra esther eva evelien fatima fatma femke
    fenna ferdinand fleur floor floris frank frans freek frits gerard gerben gerda gerrit gert gijs greet
    hakan hamza hanna hanneke hans harm harrie hasan hatice hein hendrik henk henny herman hilde hugo huub
    ibrahim ilse inge ingrid irene iris ivo jaap jacob jacqueline jan janneke jannie jasper jelle jeroen jesse
    jessica jim joke jolanda jonas joost joris jos jose josephine joyce judith julia juliette jurgen kaoutar
    karel karen karin kees kelly kevin khadija kim klaas koen kristel laura lars leo leon lieke lies lisa lisanne
    loes lotte louis lucas luuk maarten manon marco marcel marga margriet maria marianne marieke marijke marina
    mark marloes martijn martin marjolein mees mehmet meryem michel michiel mila milan mirjam mohamed mohammed
    monique mustafa myrthe nadia naima nathalie nick nicole niels noor nora nina nouri omar onno patrick paul
    peter petra piet pieter priscilla quinten rachid rachida ramon rik rob robert robin rogier roel roos rosa
    ruben rutger ruud sabine said saskia sander sandra sanne sara sarah sem senna shanti silvia simon sofie
    soufiane sophie stefan stephanie steven stijn suzanne sven tamara teun thijs thomas tim tineke tom ton
    twan vera victor vincent walter wendy wilhelmina willem willemijn wim wouter yasmina yassin yusuf zeynep
    ziggy
""".split()
)

SURNAMES = frozenset(
    """
    jong jansen vries berg dijk bakker janssen visser smit meijer meyer boer mulder groot bos vos peters hendriks
    leeuwen dekker brouwer wit dijkstra smits graaf meer linden kok jacobs haan vermeulen heuvel veen broek
    bruijn bruin heijden schouten beek willems vliet ven hoekstra maas verhoeven koster dam wal prins blom huisman
    peeters jonge kuipers veenstra kramer brink scholten wijk postma martens vink ridder pol vonk sanders hermans
    evers lammers laan bosman verbeek koning gerritsen wolters loon rijn hofman goossens boon timmermans kuiper
    verhoef hoek wouters jonker bergsma kok claassen haas dijkman vreeswijk yilmaz kaya demir sahin celik
    yildiz yildirim ozturk aydin ozdemir arslan dogan kilic aslan cetin kara koc kurt ozkan simsek el amrani
    bouzid benali haddou ouali idrissi tahiri bakkali ziani
""".split()
)

TITLES = frozenset(
    """
    wethouder wethouders burgemeester gedeputeerde raadslid raadsleden statenlid kamerlid minister
    staatssecretaris griffier gemeentesecretaris directeur directrice voorzitter secretaris penningmeester
    mevrouw mevr mw mej mevrouwe meneer mijnheer heer dhr hr mr dr drs ir ing prof juf juffrouw meester
    wijkagent wijkmanager wijkregisseur buurtregisseur opbouwwerker jongerenwerker welzijnswerker
    beleidsmedewerker beleidsadviseur projectleider programmamanager teamleider manager coordinator
    ambtenaar collega buurman buurvrouw bewoner bewoonster huisarts zorgcoordinator
""".split()
)

# After a title, a capitalised word that is a portfolio or a body rather than a name.
NOT_NAMES = frozenset(
    """
    zorg wonen onderwijs jeugd financien economie cultuur sport welzijn werk inkomen armoede wmo ruimte
    ruimtelijke verkeer mobiliteit milieu duurzaamheid klimaat energie sociaal sociale domein participatie
    veiligheid openbare orde college raad gemeente gemeenteraad provincie staten wethouders burgemeester
""".split()
)

# After a name, a word that makes it the name of a place or an institution ("Emma Kinderziekenhuis",
# "Willem de Zwijgerschool" is one word and never matched).
INSTITUTIONS = frozenset(
    """
    ziekenhuis kinderziekenhuis school basisschool college lyceum gymnasium stichting fonds huis kerk kapel
    plein straat laan weg park museum route prijs hof hoeve centrum kliniek hospice brug
""".split()
)

# Places whose names begin with a first name, written out as the rules split them.
PLACES = frozenset({("hendrik", "ido", "ambacht")})

# Before a first name, a word that makes it a saint's, a church's or a place's name ("Sint Jan").
SAINTS = frozenset({"sint", "st", "heilige", "h"})
